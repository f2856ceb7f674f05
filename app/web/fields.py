"""Form fields derived from the model: choice selects, searchable AJAX selects, attachments, the field rules of app.core.validation, composite uniqueness, and the formatters of shown values."""

import datetime
import os

from flask import current_app, has_request_context, url_for
from flask_appbuilder.filemanager import FileManager
from flask_appbuilder.upload import FileUploadField
from flask_babel import lazy_gettext as _
from markupsafe import Markup, escape
from werkzeug.datastructures import FileStorage
from wtforms import Field, SelectField
from wtforms.validators import ValidationError

from app.core.clock import local_zone
from app.core.errors import DomainError
from app.extensions import db
from app.core.people import person_name
from app.core.validation import check_value
from app.policy.attachments import (
    DOCUMENTS,
    check_upload,
    is_audio,
    is_stored_name,
    original_name,
    real_kind,
    stored_name,
)
from app.policy.records import (
    check_unique_together,
)
from app.web.lookups import chosen_text


def format_datetime(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(local_zone())
        return value.strftime("%Y-%m-%d %H:%M")
    return format_plain(value)


class PermittedForm:
    """Stands in for a view's form class so every form FAB builds passes through field permissions."""

    def __init__(self, form_class, view):
        self.form_class = form_class
        self.view = view

    def refresh(self, obj=None):
        return self.view._restrict_form(self.form_class.refresh(obj))

    def __getattr__(self, name):
        return getattr(self.form_class, name)


def format_plain(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return value


def format_many(values):
    return "、".join(format_related(value) for value in values or ())


def format_money(value):
    return "" if value is None else f"{value:,.2f}"


class AjaxSelectWidget:
    """A Select2 box that asks the server for matches as the user types."""

    def __call__(self, field, **kwargs):
        options = '<option value=""></option>'
        if field.data is not None:
            options += (
                f'<option value="{field.data.id}" selected>{escape(chosen_text(field.resource, field.data))}</option>'
            )
        return Markup(
            f'<select id="{field.id}" name="{field.name}" class="form-control crm-ajax-select" '
            f'data-url="{escape(field.url)}" data-placeholder="{escape(str(_("Type to search")))}" '
            f'style="width:100%">{options}</select>'
        )


class AjaxSelectField(Field):
    widget = AjaxSelectWidget()

    def __init__(self, label=None, validators=None, model=None, resource=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.model = model
        self.resource = resource
        self._unknown = False

    @property
    def url(self):
        from flask import url_for

        return url_for("LookupView.lookup", resource=self.resource)

    def process_formdata(self, valuelist):
        raw = valuelist[0] if valuelist else ""
        self.data = None
        if raw:
            try:
                self.data = db.session.get(self.model, int(raw))
            except (TypeError, ValueError):
                self.data = None
            self._unknown = self.data is None

    def pre_validate(self, form):
        if self._unknown:
            raise ValidationError(_("The chosen record does not exist."))


class AjaxMultiSelectWidget:
    """A multiple Select2 box fed by the lookup; ``depends`` passes another field's value along
    (e.g. the tickets of the customer chosen above)."""

    def __call__(self, field, **kwargs):
        options = "".join(
            f'<option value="{item.id}" selected>{escape(str(item))}</option>' for item in field.data or ()
        )
        depends = ""
        if field.depends:
            depends = f' data-depends="{escape(field.depends[0])}" data-depends-param="{escape(field.depends[1])}"'
        return Markup(
            f'<select id="{field.id}" name="{field.name}" multiple class="form-control crm-ajax-select" '
            f'data-url="{escape(field.url)}"{depends} data-placeholder="{escape(str(_("Type to search")))}" '
            f'style="width:100%">{options}</select>'
        )


class AjaxMultiSelectField(AjaxSelectField):
    widget = AjaxMultiSelectWidget()

    def __init__(self, label=None, validators=None, model=None, resource=None, depends=None, **kwargs):
        super().__init__(label, validators, model=model, resource=resource, **kwargs)
        self.depends = depends

    def process_data(self, value):
        self.data = list(value or [])

    def process_formdata(self, valuelist):
        self.data, self._unknown = [], False
        for raw in valuelist:
            if not raw:
                continue
            try:
                item = db.session.get(self.model, int(raw))
            except (TypeError, ValueError):
                item = None
            if item is None:
                self._unknown = True
            else:
                self.data.append(item)


class AttachmentStore(FileManager):
    """FAB's file manager with our names: random, and keeping Chinese original names readable."""

    def __init__(self, accepted=DOCUMENTS, **kwargs):
        super().__init__(**kwargs)
        self.accepted = accepted

    def generate_name(self, obj, file_data):
        return stored_name(file_data.filename, real_kind(file_data.filename, file_data.stream, self.accepted))

    def save_file(self, data, filename):
        if not is_stored_name(filename):
            raise ValueError("unexpected attachment name")
        os.makedirs(self.base_path, exist_ok=True)
        data.save(self.get_path(filename))
        return filename


class AttachmentField(FileUploadField):
    """An upload checked by content and size (app.policy.attachments), stored under a random name."""

    def __init__(self, label=None, validators=None, accepted=DOCUMENTS, **kwargs):
        super().__init__(label, validators, filemanager=AttachmentStore(accepted), **kwargs)
        self.accepted = accepted

    def pre_validate(self, form):
        if self.data and isinstance(self.data, FileStorage):
            try:
                check_upload(self.data.filename, self.data.stream, max_upload_bytes(), self.accepted)
            except DomainError as error:
                raise ValidationError(str(error))


def max_upload_bytes():
    return int(current_app.config["CRM_MAX_ATTACHMENT_MB"] * 1024 * 1024)


def uploads_validator(form, field):
    """A form's several files (photos on the new-ticket form): each checked as any attachment is."""
    for upload in field.data or ():
        if isinstance(upload, FileStorage) and upload.filename:
            try:
                check_upload(upload.filename, upload.stream, max_upload_bytes())
            except DomainError as error:
                raise ValidationError(f"{upload.filename}: {error}")


def format_attachment(endpoint):
    def format_file(value):
        if not value:
            return ""
        if not has_request_context():  # a sheet built by a job: the file's name (a link would be text anyway)
            return original_name(value)
        url = url_for(f"{endpoint}.download", filename=value)
        link = Markup('<a href="{}"><i class="fa fa-paperclip"></i> {}</a>').format(url, original_name(value))
        if is_audio(value):  # a call recording plays on the page
            return Markup('<audio controls preload="none" src="{}"></audio><br>').format(url) + link
        return link

    return format_file


def choice_select(label, choices, required, default=None, extra_validators=()):
    """A select of the declared choices; a NOT NULL column offers no blank and preselects its default."""

    def choice_list():
        pairs = choices.form_choices()
        return pairs if required else [("", "—")] + pairs

    def coerce(value):
        return value or None

    return SelectField(
        label,
        choices=choice_list,
        coerce=coerce,
        default=default,
        validators=([required_validator()] if required else []) + list(extra_validators),
    )


def label_blank_choice(form_class):
    """FAB's empty choice of an optional relation has no text, so WTForms shows its value "__None";
    it reads "—" like the empty choice of an optional list of choices."""
    from wtforms.fields.core import UnboundField

    for name in dir(form_class):
        field = getattr(form_class, name, None)
        if isinstance(field, UnboundField) and field.kwargs.get("allow_blank") and not field.kwargs.get("blank_text"):
            field.kwargs["blank_text"] = "—"


def format_related(value):
    if value is None:
        return ""
    if hasattr(value, "first_name") and hasattr(value, "last_name"):
        return person_name(value)
    return str(value)


def required_validator():
    from wtforms.validators import InputRequired

    return InputRequired()


def rule_validator(check_name):
    def validate(form, field):
        message = check_value(check_name, field.data)
        if message:
            raise ValidationError(str(message))

    return validate


def unique_together_validator(model, constraint):
    names = [c.name for c in constraint.columns]

    def validate(form, field):
        values = {}
        for name in names:
            attr = name[:-3] if name.endswith("_id") and hasattr(form, name[:-3]) else name
            if not hasattr(form, attr):
                return
            data = getattr(form, attr).data
            values[name] = data.id if hasattr(data, "id") else data
        try:
            check_unique_together(db.session, model, values, exclude_pk=getattr(form, "_id", None))
        except DomainError as error:
            raise ValidationError(str(error))

    return validate
