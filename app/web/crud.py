"""The generated CRUD layer: what every model page and REST resource derives from the model.

A view or API class below declares columns; this module supplies, from the model:
choice selects and labels, field rules (app.core.validation), searchable AJAX selects for large
related tables, eager loading for list pages, relation ordering, a capped page size,
quick search, and the record rules of app.policy.records on add, edit and delete.
"""

import copy
import datetime
import enum
import functools
import inspect
import operator
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qsl

from flask import abort, current_app, flash, g, has_request_context, jsonify, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, ModelRestApi, ModelView, expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.exceptions import (
    InvalidColumnArgsFABException,
    InvalidColumnFilterFABException,
    InvalidOrderByColumnFABException,
)
from flask_appbuilder.hooks import before_request
from flask_appbuilder.urltools import get_page_args, get_page_size_args
from flask_appbuilder.models.filters import BaseFilter, Filters
from flask_appbuilder.models.sqla.filters import FilterRelation, SQLAFilterConverter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.widgets import ListWidget
from flask_appbuilder.security.decorators import has_access_api
from flask_babel import lazy_gettext as _
from markupsafe import Markup, escape
from marshmallow import ValidationError as SchemaValidationError
from sqlalchemy import Date, false, or_
from sqlalchemy.orm import joinedload, load_only, selectinload
from sqlalchemy.orm.interfaces import MANYTOMANY, MANYTOONE, ONETOMANY
from flask_appbuilder.models.mixins import FileColumn
from flask_appbuilder.filemanager import FileManager
from flask_appbuilder.upload import FileUploadField
from werkzeug.datastructures import FileStorage, MultiDict
from wtforms import Field, SelectField
from wtforms.validators import ValidationError

from app.web.api_arguments import ArgumentError, check_columns, check_order, check_q, read_body, read_q, typed_filter
from app.web.api_labels import DescribedApi, column_labels, titles
from app.policy.attachments import (
    DOCUMENTS,
    MIME_TYPES,
    check_upload,
    is_audio,
    is_stored_name,
    original_name,
    real_kind,
    stored_name,
)
from app.web.batch import apply_batch, batch_fields
from app.web.saved_views import delete_view, save_view, views_for
from app.core.text_search import MANY_MATCHES, ManyMatches, contains, ordered_by_index
from app.core.errors import DomainError
from app.core.extensions import db
from app.core.labels import COLUMN_LABELS, MODEL_LABELS
from app.policy.records import (
    check_delete,
    check_unique_together,
    check_update,
    column_values,
    unique_together_constraints,
)
from app.web.exports import record_export, write_xlsx
from app.policy.field_permissions import HIDDEN, MASKED, READONLY, display_field, level_record, mask
from app.core.clock import local_now, local_zone
from app.web.date_fields import (
    LocalDateField,
    LocalDateTimeField,
    TypedDateError,
    parse_typed_date,
    parse_typed_datetime,
)
from app.core.people import person_name
from app.policy.permissions import RESOURCE_BUILDING, RESOURCE_UNIT, VIEW_METHOD_PERMISSIONS
from app.core.column_types import UTCDateTime, utcnow
from app.property.units import in_building, in_unit, unit_key_clause, unit_path, units_searchable
from app.core.validation import check_value


# ---------------------------------------------------------------- model introspection


def column_info(model, name):
    column = model.__table__.columns.get(name)
    return column.info if column is not None else {}


def relation_target(model, name):
    attr = getattr(model, name, None)
    prop = getattr(attr, "property", None)
    return getattr(getattr(prop, "mapper", None), "class_", None)


def display_column(model):
    """The column a relation to ``model`` sorts by (what its __str__ starts with)."""
    return display_field(model) or "id"


def eager_options(model, columns):
    """Loader options so that rendering ``columns`` (and each related __str__) costs no query per row."""
    options = []
    for column in columns:
        path = column.split(".")
        loader, current = None, model
        for part in path:
            attr = getattr(current, part, None)
            prop = getattr(attr, "property", None)
            if not hasattr(prop, "mapper"):
                break
            many_to_one, through = prop.direction is MANYTOONE, prop
            if loader is None:
                loader = joinedload(attr) if many_to_one else selectinload(attr)
            else:
                loader = loader.joinedload(attr) if many_to_one else loader.selectinload(attr)
            current = prop.mapper.class_
        if loader is None:
            continue
        options.append(loader)
        for nested in getattr(current, "__display_relations__", ()):
            if (
                through.direction is ONETOMANY
                and getattr(current, nested.split(".")[0]).property in through._reverse_property
            ):
                continue  # the record we came from (a residence's customer): already loaded, no second join
            chain, cur = loader, current
            for part in nested.split("."):
                attr = getattr(cur, part)
                prop = attr.property
                chain = chain.joinedload(attr) if prop.direction is MANYTOONE else chain.selectinload(attr)
                cur = prop.mapper.class_
            options.append(chain)
    return options


def page_columns(model, columns):
    """The table columns a list page of ``columns`` reads (its key, the listed fields; relations load
    with eager_options), or () when a listed name is neither a column nor a relation (a method or a
    property may read any field: the whole row is loaded then)."""
    mapper = model.__mapper__
    plain = {attr.key for attr in mapper.column_attrs}
    if not all(c in plain or c.split(".")[0] in mapper.relationships for c in columns):
        return ()
    keys = [attr.key for attr in mapper.column_attrs if attr.columns[0].primary_key]
    return tuple(dict.fromkeys(keys + [c for c in columns if c in plain]))


def column_getter(model, column):
    """item -> the value of a list column, as FAB's _get_attr_value reads it, decided once per column."""
    parts = column.split(".")
    if len(parts) > 1:

        def nested(item):
            try:
                return functools.reduce(getattr, parts, item)
            except Exception:  # a missing link in the path shows nothing, as on FAB's pages
                return ""

        return nested
    declared = inspect.getattr_static(model, column, None)
    if declared is None:  # not declared on the model: FAB's own reading
        return lambda item: SQLAInterface._get_attr_value(item, column)
    if inspect.isfunction(declared):
        return lambda item: getattr(item, column)()
    get = operator.attrgetter(column)

    def attribute(item):
        value = get(item)
        return value.value if isinstance(value, enum.Enum) else value

    return attribute


def cell_renderer(formatter):
    """value -> ``<td>…</td>``, formatted and escaped once per distinct value on a page (a status, a
    building, a department repeat from row to row)."""
    memo = {}

    def cell(value):
        return "<td>%s</td>" % escape(formatter(value) if formatter is not None else value)

    def render(value):
        try:
            key = (value.__class__, value)
            found = memo.get(key)
        except TypeError:  # a list of related records
            return cell(value)
        if found is None:
            found = memo[key] = cell(value)
        return found

    return render


def _local_datetime(value):
    """A filter's date-time as the staff mean it: a value without a zone is local time."""
    if isinstance(value, str):
        from dateutil import parser

        try:
            return parse_typed_datetime(value)  # 2026-12-01 18:00, 2026/12/01 18:00, 2026年12月1日 18:00 …
        except TypedDateError:
            pass
        try:
            value = parser.parse(value)
        except (ValueError, OverflowError):
            return None
    if isinstance(value, datetime.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=local_zone())
    return value


def _local_time_filter(base):
    class LocalTimeFilter(base):
        def apply(self, query, value):
            value = _local_datetime(value)
            return query if value is None else super().apply(query, value)

    LocalTimeFilter.__name__ = base.__name__  # drill-down links look filters up by their FAB name
    return LocalTimeFilter


def _typed_day_filter(base):
    class TypedDayFilter(base):
        def apply(self, query, value):
            if isinstance(value, str):
                try:
                    value = parse_typed_date(value)  # 2026年11月26日 too, which FAB's parser does not read
                except TypedDateError:
                    pass
            return super().apply(query, value)

    TypedDayFilter.__name__ = base.__name__
    return TypedDayFilter


def _typed_filters(kind, filters):
    if kind == "is_datetime":
        return [_local_time_filter(f) for f in filters]
    if kind == "is_date":
        return [_typed_day_filter(f) for f in filters]
    return filters


class CrmFilterConverter(SQLAFilterConverter):
    """FAB's filters, with date-times typed in the search form (no zone) taken as local time
    (FAB would pass them on naive, which a UTC column cannot compare)."""

    conversion_table = tuple(
        (kind, _typed_filters(kind, filters)) for kind, filters in SQLAFilterConverter.conversion_table
    )


class CrmFilters(Filters):
    """FAB's filter set, with REST filters resolved per column.

    FAB resolves a REST ``opr`` through one process-wide map that the last filter created for any
    column overwrites, so ``created_at gt …`` could run FAB's plain filter (a 500 on a UTC column)
    or a date-time filter could be applied to a number. Here the column's own filters decide.
    """

    def rest_add_filters(self, data):
        from flask_appbuilder.exceptions import InvalidColumnFilterFABException, InvalidOperationFilterFABException

        for item in data:
            try:
                opr, col, value = item["opr"], item["col"], item["value"]
            except (KeyError, TypeError):
                continue
            if col not in self.search_columns:
                raise InvalidColumnFilterFABException(f"Filter column: {col} not allowed to filter")
            found = next((f for f in self._search_filters.get(col, []) if f.arg_name == opr), None)
            if found is None:
                raise InvalidOperationFilterFABException(f"Filter operation: {opr} not allowed on column: {col}")
            # FAB keeps instances for its own filters and classes for those a view declares
            self.add_filter(col, found if isinstance(found, type) else type(found), value)


class CrmInterface(SQLAInterface):
    """SQLAInterface with eager loading of the listed relations and ordering by relations."""

    filter_converter_class = CrmFilterConverter

    def get_filters(self, search_columns=None, search_filters=None):
        return CrmFilters(
            self.filter_converter_class, self, search_columns=search_columns or [], search_filters=search_filters
        )

    def __init__(self, obj, session=None):
        super().__init__(obj, session)
        self.eager_columns = ()
        self.page_load_only = ()  # the table columns a list page reads (set by its view), when it reads no others

    def query(
        self,
        filters=None,
        order_column="",
        order_direction="",
        page=None,
        page_size=None,
        select_columns=None,
        outer_default_load=False,
    ):
        if page_size and isinstance(self.get_pk_name(), str):
            # pages and API lists (the API's schema reads its columns from the loaded rows)
            return self._query_page(
                filters,
                order_column,
                order_direction,
                page,
                page_size,
                select_columns or self.eager_columns,
                () if select_columns else self.page_load_only,
            )
        query = self.session.query(self.obj)
        # counted over the primary key alone: a count over every selected column reads every row
        pk_name = self.get_pk_name()
        counted = self.session.query(getattr(self.obj, pk_name)) if isinstance(pk_name, str) else query
        count = self.query_count(counted, filters)
        query = self.apply_all(
            query, filters, order_column, order_direction, page, page_size, select_columns, outer_default_load
        )
        if not select_columns:
            query = query.options(*eager_options(self.obj, self.eager_columns))
        rows = query.all()
        # with select_columns FAB may return rows holding the entity under the model's name
        if rows and hasattr(rows[0], self.obj.__name__):
            rows = [getattr(row, self.obj.__name__) for row in rows]
        return count, rows

    def _query_page(self, filters, order_column, order_direction, page, page_size, columns, load_only_columns=()):
        """A list page in three constant steps: the count and the page's ids from the table and its
        indexes alone (a deep page skips index entries, not joined rows), then those rows with what
        the list shows (eager loading; on a page, only the table columns it shows), in the page's order."""
        pk = getattr(self.obj, self.get_pk_name())
        count = self.query_count(self.session.query(pk), filters)
        if count > MANY_MATCHES and ordered_by_index(
            self.obj, order_column
        ):  # many matches: app.core.text_search.contains
            filters = filters.copy()
            filters.values = [
                ManyMatches(v) if isinstance(f, FilterQuickSearch) and isinstance(v, str) else v
                for f, v in zip(filters.filters, filters.values)
            ]
        ids = [
            row[0]
            for row in self.apply_all(self.session.query(pk), filters, order_column, order_direction, page, page_size)
        ]
        if not ids:
            return count, []
        options = eager_options(self.obj, columns)
        if load_only_columns:
            options.append(load_only(*[getattr(self.obj, name) for name in load_only_columns]))
        rows = self.session.query(self.obj).filter(pk.in_(ids)).options(*options).all()
        position = {value: index for index, value in enumerate(ids)}
        rows.sort(key=lambda row: position[getattr(row, pk.key)])
        return count, rows

    def apply_order_by(
        self, query, order_column, order_direction, aliases_mapping=None, bypass_many_to_many=False, add_pk=False
    ):
        if order_column and "." not in order_column and self.is_relation_many_to_one(order_column):
            target = self.get_related_model(order_column)
            order_column = f"{order_column}.{display_column(target)}"
        # the primary key as tie-breaker keeps pages stable when the order column repeats
        return super().apply_order_by(
            query, order_column, order_direction, aliases_mapping, bypass_many_to_many, add_pk=True
        )


# ---------------------------------------------------------------- quick search


class FilterQuickSearch(BaseFilter):
    """One search box over the view's ``quick_search`` paths (name, phone, unit number …)."""

    name = _("Contains")
    arg_name = "crm_q"
    paths = ()

    def apply(self, query, value):
        many = isinstance(value, ManyMatches)  # the list page counted many matches
        value = (value or "").strip()
        if not value:
            return query
        term = value  # as typed, for the unit key below
        model = self.datamodel.obj
        dialect = self.datamodel.session.get_bind().dialect.name
        access = current_app.appbuilder.sm.field_access(model.__name__)
        paths = [path for path in self.paths if access.searchable(path)]
        if not paths:  # nothing this user may search: no match, as for any value that does not exist
            return query.filter(false())
        clauses = [contains(model, paths, value, dialect, many)]  # app.core.text_search: through the text index
        clauses += _unit_key_clauses(model, term, access)
        return query.filter(or_(*clauses))


def _unit_key_clauses(model, term, access):
    """A search naming a unit ("1号楼-102") also finds the records tied to that unit (app.property.units)."""
    clause = unit_key_clause(model, term, access)
    return [] if clause is None else [clause]


def quick_search_filter(paths):
    return type("FilterQuickSearch", (FilterQuickSearch,), {"paths": tuple(paths)})


class _FilterInUnits(BaseFilter):
    """The records of one building or unit (by id), for a user who may search the model by unit."""

    def apply(self, query, value):
        model = self.datamodel.obj
        text = str(value).strip()
        access = current_app.appbuilder.sm.field_access(model.__name__)
        if not text.isdigit() or len(text) > 9 or not units_searchable(model, access):
            return query.filter(false())  # as for a record that does not exist
        return query.filter(self.condition(model, int(text)))


class FilterInBuilding(_FilterInUnits):
    """``?building=N`` on a list (``crm_building`` in the API): the records of one building (the 楼栋
    filter, dashboard drill-downs)."""

    name = _("Building")
    arg_name = "crm_building"
    condition = staticmethod(in_building)


class FilterInUnit(_FilterInUnits):
    """``?unit=N`` on a list (``crm_unit`` in the API): the records of one unit (the 房屋 filter)."""

    name = _("Unit")
    arg_name = "crm_unit"
    condition = staticmethod(in_unit)


def _id_argument(name, model, args=None):
    """A record id a list request is narrowed to (``?building=N``, ``?unit=N``), when the model has units."""
    text = (args or ListArgs.of_request()).args.get(name, "")
    if not text.isdigit() or len(text) > 9 or unit_path(model) is None:
        return None
    return int(text)


def building_argument(model, args=None):
    """The building a list request is narrowed to (``?building=N``), when the model has one."""
    return _id_argument("building", model, args)


def unit_argument(model, args=None):
    """The unit a list request is narrowed to (``?unit=N``), when the model has one."""
    return _id_argument("unit", model, args)


# ---------------------------------------------------------------- form fields


def format_datetime(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(local_zone())
        return value.strftime("%Y-%m-%d %H:%M")
    return format_plain(value)


def _record_ids(value):
    """Is a filter's value (one text or the list the address gives) made of record ids only?"""
    values = value if isinstance(value, (list, tuple)) else [value]
    return bool(values) and all(str(v).isdigit() and len(str(v)) <= 18 for v in values)


@dataclass(frozen=True)
class ListArgs:
    """What a list shows, as its address says: filters (``_flt_<i>_<column>``), quick search (``q``),
    order (``_oc_/_od_<View>``), columns (``cols``) and ticked rows (``ids``). Read from the request by
    the page and its download, from a saved query string by the background export and broadcast
    segments: one reading, no request needed."""

    args: MultiDict
    ticked: MultiDict  # where ``ids`` come from: a form posts them, a link carries them

    @classmethod
    def of_request(cls):
        return cls(request.args, request.values)

    @classmethod
    def of_query(cls, query_string):
        args = MultiDict(parse_qsl(query_string or "", keep_blank_values=True))
        return cls(args, args)

    @property
    def text(self):
        return self.args.get("q", "").strip()

    @property
    def columns(self):
        return [c for c in self.args.get("cols", "").split(",") if c]

    @property
    def ids(self):
        """The ids ticked on the list page (``ids=1,2,3``), or None when none were given."""
        raw = self.ticked.get("ids")
        return None if raw is None else [int(part) for part in raw.split(",") if part.strip().isdigit()]

    def order(self, view_name):
        direction = self.args.get(f"_od_{view_name}")
        return (self.args.get(f"_oc_{view_name}"), direction) if direction in ("asc", "desc") else ("", "")

    def filters(self, declared):
        """The view's declared filters with the values the address gives, on a copy (the view's own
        object is shared by every request and job)."""
        chosen = copy.copy(declared)
        chosen.clear_filters()
        allowed = declared.get_search_filters()
        for arg in self.args:
            match = re.fullmatch(r"_flt_(\d)_(.*)", arg)
            if match and match[2] in allowed:
                chosen.add_filter_index(match[2], int(match[1]), self.args.getlist(arg))
        return chosen


def export_value(formatter, value, masked=False):
    """Cells keep their type (dates, numbers) and take the page's text for everything else."""
    if not masked and (isinstance(value, (datetime.date, Decimal, int, float, bool)) or formatter is None):
        return value
    shown = formatter(value) if formatter else value
    return shown.striptags() if isinstance(shown, Markup) else shown  # a page's link is text in a sheet


def _masking(field, base):
    def formatted(value):
        shown = base(value) if base else value
        return mask(field, shown if shown is None else str(shown))

    return formatted


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
        validators=([_required()] if required else []) + list(extra_validators),
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


def _required():
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


# ---------------------------------------------------------------- views


def model_label(model):
    return MODEL_LABELS.get(model.__name__, model.__name__)


class CrmListWidget(ListWidget):
    """FAB's list table, rendering each row's links without a url_for and translations per row."""

    template = "crm/widgets/list.html"


class CrmModelView(ModelView):
    """A FAB ModelView whose forms, labels, formats and loading derive from the model."""

    list_widget = CrmListWidget
    quick_search = ()  # paths searched by the list page's one search box
    unit_filters = False  # the list's 楼栋 and 房屋 filters (searchable selects; a model tied to units)
    # relation -> (form field, lookup parameter): a searchable multi-select narrowed by another field
    lookup_depends = {}
    list_template = "crm/model_list.html"
    show_template = "crm/show.html"
    edit_template = "appbuilder/general/model/edit_cascade.html"

    def __init__(self, **kwargs):
        model = self.datamodel.obj
        label = model_label(model)
        self.list_title = self.list_title or _("%(entity)s list", entity=label)
        self.add_title = self.add_title or _("Add %(entity)s", entity=label)
        self.edit_title = self.edit_title or _("Edit %(entity)s", entity=label)
        self.show_title = self.show_title or _("%(entity)s details", entity=label)
        labels = dict(COLUMN_LABELS)
        labels.update(self.label_columns or {})
        self.label_columns = labels
        self._derive_from_model(model)
        super().__init__(**kwargs)
        if not batch_fields(model):
            self.actions.pop("batch_edit", None)
        for form in (self.add_form, self.edit_form):
            label_blank_choice(form)
        self.add_form = PermittedForm(self.add_form, self)
        self.edit_form = PermittedForm(self.edit_form, self)
        self.datamodel.eager_columns = tuple(self.list_columns)
        self.datamodel.page_load_only = page_columns(model, self.list_columns)
        self.extra_args = dict(
            self.extra_args or {},
            quick_search=bool(self.quick_search),
            export_resource=self.class_permission_name,
            batch_enabled=bool(batch_fields(model)),
        )
        if self.quick_search:
            self._quick_filter = quick_search_filter(self.quick_search)

    # ---- related lists: exactly the declared views, and only those the user may read

    def get_init_inner_views(self):
        # FAB fills this list at start-up with every registered view that is an instance of a declared
        # related view, subclasses included (the to-do list and the pending pool are ticket views)
        return self.__dict__.setdefault("_crm_registered_related", [])

    @property
    def _related_views(self):
        """The related lists of a show page: the declared classes only, each shown to users who may
        read its model (its rows then follow their scope, its fields their levels)."""
        declared = tuple(self.related_views or ())
        views = sorted(
            (v for v in self.__dict__.get("_crm_registered_related", []) if type(v) in declared),
            key=lambda v: declared.index(type(v)),
        )  # in the order declared
        if not has_request_context():
            return views
        sm = self.appbuilder.sm
        return [v for v in views if sm.has_access("can_read", v.class_permission_name)]

    @_related_views.setter
    def _related_views(self, value):
        pass  # FAB's constructor resets it; the registered list above is the one kept

    def _get_related_views_widgets(self, item, orders=None, pages=None, page_sizes=None, widgets=None, **args):
        """The show page renders an empty panel per related list (crm/show.html): each list is fetched
        from ``related`` when its panel opens, so the page runs no query for them. (The edit page keeps
        FAB's lists, rendered with the form.)"""
        if request.endpoint != f"{self.endpoint}.show":
            return super()._get_related_views_widgets(
                item, orders=orders, pages=pages, page_sizes=page_sizes, widgets=widgets, **args
            )
        widgets = widgets or {}
        widgets["related_views"] = []
        return widgets

    @expose("/related/<int:pk>/<string:view>")
    @has_access
    def related(self, pk, view):
        """One related list of a show page (its rows, paging and ordering), fetched when its panel opens.

        The record must be one this user may read here (this view's row scope); the rows then follow the
        related view's own scope and field levels, exactly as its list page does.
        """
        found = next((v for v in self._related_views if type(v).__name__ == view), None)
        item = self.datamodel.get(pk, self._base_filters) if found is not None and pk < 2**63 else None
        if item is None:
            abort(404)
        order_column, order_direction = ListArgs.of_request().order(view)
        widget = self._get_related_view_widget(
            item,
            found,
            order_column,
            order_direction,
            page=get_page_args().get(view),
            page_size=get_page_size_args().get(view),
        )
        if widget is None:
            abort(404)
        return widget(pk=pk)

    @action("change_history", _("Change history"), icon="fa-history", multiple=False, single=True)
    def change_history(self, item):
        """Who changed this record and how (the change log, for those who may read it)."""
        item = item[0] if isinstance(item, list) else item  # posted from a list, FAB passes a list
        return redirect(url_for("ChangeLogView.record", resource=type(item).__name__, record_id=item.id))

    @expose("/download/<string:filename>")
    @has_access
    def download(self, filename):
        """A stored file, only when a record this user may read on this page points to it."""
        model = self.datamodel.obj
        columns = [c for c in model.__table__.columns if isinstance(c.type, FileColumn)]
        if not columns or not is_stored_name(filename):
            abort(404)
        query = self._base_filters.apply_all(db.session.query(model.id).filter(or_(*[c == filename for c in columns])))
        path = os.path.join(current_app.config["UPLOAD_FOLDER"], filename)
        if query.first() is None or not os.path.isfile(path):
            abort(404)
        kind = filename.rsplit(".", 1)[-1].lower()
        response = send_file(
            path,
            as_attachment=True,
            download_name=original_name(filename),
            mimetype=MIME_TYPES.get(kind, "application/octet-stream"),
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    def _derive_from_model(self, model):
        validators = dict(self.validators_columns or {})
        formatters = dict(self.formatters_columns or {})
        add_extra = dict(self.add_form_extra_fields or {})
        edit_extra = dict(self.edit_form_extra_fields or {})
        search_extra = dict(self.search_form_extra_fields or {})
        # field rules first: the derived fields below carry them (FAB adds validators_columns
        # only to the fields it builds itself)
        for column in model.__table__.columns:
            if "check" in column.info:
                validators.setdefault(column.key, []).append(rule_validator(column.info["check"]))
        for constraint in unique_together_constraints(model):
            validators.setdefault(constraint.info["field"], []).append(unique_together_validator(model, constraint))

        def rules(name, required):
            return ([_required()] if required else []) + list(validators.get(name, []))

        for column in model.__table__.columns:
            name, info = column.key, column.info
            label = self.label_columns.get(name, name)
            formatters.setdefault(name, format_plain)
            if "choices" in info:
                default = column.default.arg if column.default is not None else None
                formatters[name] = info["choices"].label
                add_extra.setdefault(
                    name, choice_select(label, info["choices"], not column.nullable, default, validators.get(name, []))
                )
                edit_extra.setdefault(
                    name, choice_select(label, info["choices"], not column.nullable, None, validators.get(name, []))
                )
                search_extra.setdefault(name, choice_select(label, info["choices"], False))
            elif isinstance(column.type, UTCDateTime):
                formatters[name] = format_datetime
                # a time that defaults to "now" (payment time, contact time) is filled in on the add form
                now_default = utcnow if column.default is not None and column.default.is_callable else None
                add_extra.setdefault(
                    name, LocalDateTimeField(label, validators=rules(name, not column.nullable), default=now_default)
                )
                edit_extra.setdefault(name, LocalDateTimeField(label, validators=rules(name, not column.nullable)))
                search_extra.setdefault(name, LocalDateTimeField(label))
            elif isinstance(column.type, Date):
                # typed days (2026-11-26, 2026/11/26) in place of FAB's bootstrap-datepicker, which emptied them
                add_extra.setdefault(name, LocalDateField(label, validators=rules(name, not column.nullable)))
                edit_extra.setdefault(name, LocalDateField(label, validators=rules(name, not column.nullable)))
                search_extra.setdefault(name, LocalDateField(label))
            elif str(column.type).startswith("NUMERIC(12"):
                formatters[name] = format_money
            elif isinstance(column.type, FileColumn):
                formatters[name] = format_attachment(type(self).__name__)
                add_extra.setdefault(name, AttachmentField(label, validators=rules(name, not column.nullable)))
                edit_extra.setdefault(name, AttachmentField(label, validators=rules(name, not column.nullable)))
        for rel in model.__mapper__.relationships:
            target = rel.mapper.class_
            formatters.setdefault(rel.key, format_many if rel.uselist else format_related)
            if rel.direction is MANYTOONE and getattr(target, "__lookup__", None):
                label = self.label_columns.get(rel.key, rel.key)
                required = any(not c.nullable for c in rel.local_columns)
                resource = target.__tablename__
                for extra in (add_extra, edit_extra):
                    extra.setdefault(
                        rel.key, AjaxSelectField(label, rules(rel.key, required), model=target, resource=resource)
                    )
                search_extra.setdefault(rel.key, AjaxSelectField(label, model=target, resource=resource))
            elif rel.direction is MANYTOMANY and getattr(target, "__lookup__", None):
                label = self.label_columns.get(rel.key, rel.key)
                depends = self.lookup_depends.get(rel.key)
                for extra in (add_extra, edit_extra):
                    extra.setdefault(
                        rel.key,
                        AjaxMultiSelectField(label, [], model=target, resource=target.__tablename__, depends=depends),
                    )
        self.validators_columns = validators
        self.formatters_columns = formatters
        self.add_form_extra_fields = add_extra
        self.edit_form_extra_fields = edit_extra
        self.search_form_extra_fields = search_extra

    def _current_list(self, filters, order_column, order_direction, args=None):
        """The list's filters (with the quick search) and a permitted order, as ``args`` (by default
        this request) ask. The list page, its exports and saved-view segments all read them here."""
        args = args or ListArgs.of_request()
        access = self._field_access()
        if order_column and (order_column not in self.order_columns or not access.searchable(order_column)):
            order_column, order_direction = "", ""
        if not order_column and self.base_order:
            order_column, order_direction = self.base_order
        # no filtering on a hidden or masked field (it would leak its values), nor on a related record
        # by something that is not a record's id (PostgreSQL refuses the look-up; it names no record)
        if access or any(isinstance(f, FilterRelation) for f in filters.filters):
            kept = [
                (f, v)
                for f, v in zip(filters.filters, filters.values)
                if access.searchable(f.column_name) and (not isinstance(f, FilterRelation) or _record_ids(v))
            ]
            if len(kept) != len(filters.filters):
                filters = filters.copy()
                filters.filters = [f for f, _v in kept]
                filters.values = [v for _f, v in kept]
        paths = [p for p in self.quick_search if access.searchable(p)]
        query_text = args.text if paths else ""
        if query_text:
            filters = filters.copy()
            quick = self._quick_filter if len(paths) == len(self.quick_search) else quick_search_filter(paths)
            filters.add_filter(paths[0].split(".")[0], quick, query_text)
        return filters, order_column, order_direction

    def _get_list_widget(
        self,
        filters,
        actions=None,
        order_column="",
        order_direction="",
        page=None,
        page_size=None,
        widgets=None,
        **kwargs,
    ):
        """FAB's list widget with the page size capped and this user's field permissions applied."""
        widgets = widgets or {}
        limit = current_app.config["CRM_MAX_PAGE_SIZE"]
        page_size = min(max(int(page_size or self.page_size), 1), limit)
        filters, order_column, order_direction = self._current_list(filters, order_column, order_direction)
        access = self._field_access()
        columns = self._shown_columns(access)
        joined_filters = self._joined_filters(filters)
        count, rows = self.datamodel.query(
            joined_filters, order_column, order_direction, page=page, page_size=page_size
        )
        pks = [self._serialize_pk_if_composite(pk) for pk in self.datamodel.get_keys(rows)]
        # each row's cells as one escaped string, built here in one pass: per column a getter and a
        # formatter (field levels applied) chosen once; the template only places the rows
        formatters = self._formatters_for(access)
        model = self.datamodel.obj
        cells = [(column_getter(model, name), cell_renderer(formatters.get(name))) for name in columns]
        values = [Markup("".join([render(get(row)) for get, render in cells])) for row in rows]
        widgets["list"] = self.list_widget(
            label_columns=self.label_columns,
            include_columns=columns,
            value_columns=values,
            order_columns=[c for c in self.order_columns if access.searchable(c)],
            formatters_columns={},
            page=page,
            page_size=page_size,
            count=count,
            pks=pks,
            actions=actions or self.actions,
            filters=filters,
            modelview_name=self.__class__.__name__,
            **kwargs,
        )
        return widgets

    def _joined_filters(self, filters, args=None):
        """The list's filters, the view's base filters and a drill-down's building, as one set."""
        joined = filters.get_joined_filters(self._base_filters)
        model = self.datamodel.obj
        building, unit = building_argument(model, args), unit_argument(model, args)
        if (building is not None or unit is not None) and not units_searchable(model, self._field_access()):
            building = unit = None  # no narrowing by a unit this user may not search (as for any field)
        if building is not None or unit is not None:
            joined = joined.copy()
        if building is not None:
            joined.add_filter("id", FilterInBuilding, building)
        if unit is not None:
            joined.add_filter("id", FilterInUnit, unit)
        return joined

    def building_filter_name(self):
        """The name of the building a drill-down narrowed this list to, for the page to say so."""
        building = building_argument(self.datamodel.obj)
        if building is None or not units_searchable(self.datamodel.obj, self._field_access()):
            return None
        from app.models import Building

        found = db.session.get(Building, building)
        return found.name if found else "—"

    def unit_filter_choices(self):
        """For the list page's 楼栋 and 房屋 filters: each filter this user may use, with its lookup
        address and the chosen record (id, text) or None; None when the list has no such filters."""
        model = self.datamodel.obj
        if not self.unit_filters or not units_searchable(model, self._field_access()):
            return None
        from app.models import Building, Unit

        sm = self.appbuilder.sm
        filters = {}
        for name, target, resource, argument in (
            ("building", Building, RESOURCE_BUILDING, building_argument),
            ("unit", Unit, RESOURCE_UNIT, unit_argument),
        ):
            if not sm.has_access("can_read", resource):
                continue  # its lookup would refuse this user
            record_id = argument(model)
            found = db.session.get(target, record_id) if record_id is not None else None
            text = sm.field_access(resource).shown_as_text(found) if found is not None else "—"
            filters[name] = {
                "url": url_for("LookupView.lookup", resource=target.__tablename__),
                "chosen": (record_id, text) if record_id is not None else None,
            }
        return filters or None

    def _shown_columns(self, access, args=None):
        """The list's columns this user may see, narrowed and ordered by ``?cols=a,b`` when given."""
        visible = access.visible(self.list_columns)
        asked = [c for c in (args or ListArgs.of_request()).columns if c in visible]
        return list(dict.fromkeys(asked)) or visible

    def column_choices(self):
        """For the list page's column picker: (name, label, shown) of every column the user may see."""
        access = self._field_access()
        shown = set(self._shown_columns(access))
        return [(c, self.label_columns.get(c, c), c in shown) for c in access.visible(self.list_columns)]

    def _get_show_widget(self, pk, item, widgets=None, actions=None, show_fieldsets=None):
        widgets = widgets or {}
        access = self._field_access()
        columns = access.visible(self.show_columns)
        widgets["show"] = self.show_widget(
            pk=pk,
            label_columns=self.label_columns,
            include_columns=columns,
            value_columns=self.datamodel.get_values_item(item, columns),
            formatters_columns=self._formatters_for(access),
            actions=actions or self.actions,
            fieldsets=show_fieldsets or self.show_fieldsets,
            modelview_name=self.__class__.__name__,
        )
        return widgets

    def _get_search_widget(self, form=None, exclude_cols=None, widgets=None):
        access = self._field_access()
        hidden = [c for c in self.search_columns if not access.searchable(c)]
        if form is not None:
            self._choose_searched_records(form, ListArgs.of_request())
        return super()._get_search_widget(form, list(exclude_cols or []) + hidden, widgets)

    @staticmethod
    def _choose_searched_records(form, args):
        """A filter on a related record (房屋, 客户, 负责人) is a box that searches as one types, not a
        select of every record; the record a filter already names is its one option."""
        for arg in args.args:
            match = re.fullmatch(r"_flt_\d_(.*)", arg)
            field = form[match[1]] if match and match[1] in form else None
            if isinstance(field, AjaxSelectField):
                field.process_formdata([args.args.get(arg)])

    def _get_add_widget(self, form, exclude_cols=None, widgets=None):
        widgets = widgets or {}
        widgets["add"] = self.add_widget(
            form=form,
            include_cols=[c for c in self.add_columns if c in form],
            exclude_cols=exclude_cols or [],
            fieldsets=self.add_fieldsets,
        )
        return widgets

    def _get_edit_widget(self, form, exclude_cols=None, widgets=None):
        widgets = widgets or {}
        widgets["edit"] = self.edit_widget(
            form=form,
            include_cols=[c for c in self.edit_columns if c in form],
            exclude_cols=exclude_cols or [],
            fieldsets=self.edit_fieldsets,
        )
        return widgets

    # ---- field permissions: one FieldAccess per request, applied on every path of the page

    def _field_access(self):
        return self.appbuilder.sm.field_access(self.class_permission_name)

    def _formatters_for(self, access):
        if not access:
            return self.formatters_columns
        formatters = dict(self.formatters_columns)
        for field in {*access.levels, *self.list_columns, *self.show_columns}:
            if access.level(field) == MASKED:
                formatters[field] = _masking(field.split(".")[-1], formatters.get(field))
        return formatters

    def _restrict_form(self, form):
        """Hidden fields leave the form; read-only and masked ones render disabled and are never written."""
        access = self._field_access()
        if not access:
            return form
        posting = request.method == "POST"
        for name in list(form._fields):
            level = access.level(name)
            if level == HIDDEN or (posting and level in (READONLY, MASKED)):
                del form[name]
            elif level in (READONLY, MASKED):
                field = form[name]
                field.render_kw = dict(field.render_kw or {}, disabled=True)
                if level == MASKED:
                    field.data = mask(name, field._value() if hasattr(field, "_value") else field.data)
        return form

    @action("export_selected", _("Export selected to Excel"), icon="fa-file-excel", multiple=True, single=False)
    def export_selected(self, items):
        ids = ",".join(str(item.id) for item in items if item is not None)
        return redirect(url_for(".export", ids=ids))

    @action("batch_edit", _("Batch edit"), icon="fa-edit", multiple=True, single=False)
    def batch_edit(self, items):
        ids = ",".join(str(item.id) for item in items if item is not None)
        return redirect(url_for(".batch", ids=ids))

    def _export_query(self, args):
        query = self.list_query(args)
        if args.ids is not None:
            query = query.filter(self.datamodel.obj.id.in_(args.ids))
        return query

    def export_file(self, args):
        """Write the list ``args`` describe, as the acting principal sees it, to a temporary .xlsx:
        (path, rows, title). Used by the download and by the background export job alike."""
        query = self._export_query(args)
        query = query.options(*eager_options(self.datamodel.obj, self.list_columns)).yield_per(1000)
        access = self._field_access()
        columns = self._shown_columns(access, args)
        formatters = dict(self._formatters_for(access))
        model = self.datamodel.obj
        for col in columns:  # translate each choice label once per export, not once per cell
            choices = column_info(model, col).get("choices")
            if choices is not None and not access.masked(col):
                translated = {code: choices.label(code) for code in choices.codes}
                formatters[col] = lambda code, translated=translated: translated.get(code, code or "")
        labels = [self.label_columns.get(col, col) for col in columns]
        cells = [(col, formatters.get(col), access.masked(col), "." in col) for col in columns]
        value_of = self.datamodel._get_attr_value
        rows = (
            [
                export_value(formatter, value_of(item, col) if dotted else getattr(item, col), masked)
                for col, formatter, masked, dotted in cells
            ]
            for item in query
        )
        title = str(self.list_title)
        path, count = write_xlsx(columns, labels, rows, sheet_name=title, zone=local_zone())
        return path, count, title

    def list_query(self, args):
        """The rows this list shows for ``args`` (filters, quick search, order), within the acting
        principal's scope and field levels — the one definition of "what a list shows"."""
        filters = args.filters(self._filters)
        filters, order_column, order_direction = self._current_list(
            filters, *args.order(self.__class__.__name__), args=args
        )
        joined = self._joined_filters(filters, args)
        return self.datamodel.apply_all(
            self.datamodel.session.query(self.datamodel.obj), joined, order_column, order_direction
        )

    def _batch_query(self):
        """The records a batch targets: every row of the current filter, or the selected ids."""
        args = ListArgs.of_request()
        if request.values.get("all"):
            return self.list_query(args)
        query = self.datamodel.session.query(self.datamodel.obj)
        query = self._base_filters.apply_all(query) if self._base_filters.filters else query
        return query.filter(self.datamodel.obj.id.in_(args.ids or []))

    @expose("/batch/", methods=["GET", "POST"])
    @has_access
    def batch(self):
        """Set chosen fields on the selected rows, or on all rows matching the filter, all or nothing."""
        model = self.datamodel.obj
        names = [f for f in batch_fields(model) if f != "tags"]
        access = self._field_access()
        form = self.edit_form.refresh()  # through field permissions: hidden/read-only fields are gone
        fields = [form[name] for name in names if name in form and access.writable(name)]
        tags = None
        if "tags" in batch_fields(model) and access.writable("tags"):
            tags = self.datamodel.session.query(relation_target(model, "tags")).order_by("name").all()
        query = self._batch_query()
        count = query.count()
        whole_filter = bool(request.values.get("all"))
        applied = [f.name for f in fields if request.form.get(f"apply_{f.name}")]
        if request.method == "POST":
            changes, valid = {}, True
            for field in fields:
                if field.name in applied:
                    valid = field.validate(form) and valid
                    changes[field.name] = field.data
            if tags is not None:
                by_id = {str(tag.id): tag for tag in tags}
                for key in ("add_tags", "remove_tags"):
                    if request.form.get(f"apply_{key}"):
                        changes[key] = [by_id[v] for v in request.form.getlist(key) if v in by_id]
            if whole_filter and not request.form.get("confirm"):
                flash(str(_("Confirm that every matching record should change.")), "warning")
            elif valid:
                try:
                    changed = apply_batch(self.datamodel.session, query, changes, access)
                except DomainError as error:
                    flash(str(error), "danger")
                else:
                    flash(str(_("%(count)s records changed.", count=changed)), "success")
                    return redirect(url_for(".list"))
        args = request.args.to_dict(flat=True)
        return self.render_template(
            "crm/batch_edit.html",
            title=_("Batch edit: %(entity)s", entity=model_label(model)),
            fields=fields,
            tags=tags,
            count=count,
            whole_filter=whole_filter,
            applied=applied,
            action_url=url_for(".batch", **args),
            back_url=url_for(".list"),
        )

    @expose("/savedview/", methods=["POST"])
    @has_access
    def save_view(self):
        """Save the list's current filters, search and order under a name (optionally for a role)."""
        role_id = request.form.get("shared_role", type=int)
        if role_id and role_id not in {role.id for role in g.user.roles}:
            role_id = None  # share only with a role one holds
        try:
            saved = save_view(
                db.session,
                g.user.id,
                self.__class__.__name__,
                request.form.get("name"),
                request.form.get("query", ""),
                role_id,
            )
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "danger")
            return redirect(url_for(".list"))
        flash(str(_("View saved.")), "success")
        return redirect(url_for(".list") + ("?" + saved.query if saved.query else ""))

    @expose("/savedview/<int:saved_id>/delete", methods=["POST"])
    @has_access
    def delete_saved_view(self, saved_id):
        try:
            delete_view(db.session, g.user.id, saved_id)
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "danger")
        return redirect(url_for(".list"))

    @expose("/export/")
    @has_access
    def export(self):
        """The current list (filters, search, order; all pages) as an .xlsx download; a list larger
        than CRM_EXPORT_BACKGROUND_ROWS is built by the scheduler and offered when ready."""
        args = ListArgs.of_request()
        query = self._export_query(args)
        limit = current_app.config["CRM_EXPORT_BACKGROUND_ROWS"]
        if query.order_by(None).count() > limit:
            from app.web.exports import queue_export

            queue_export(
                db.session,
                g.user.id,
                self.__class__.__name__,
                str(self.list_title),
                request.query_string.decode("utf-8", "replace"),
                utcnow(),
            )
            flash(
                str(
                    _(
                        "More than %(limit)s rows: the file is being prepared and you will get a message "
                        "when it is ready.",
                        limit=f"{limit:,}",
                    )
                ),
                "info",
            )
            return redirect(url_for(".list", **request.args))
        path, count, title = self.export_file(args)
        record_export(
            db.session,
            actor_id=getattr(g.user, "id", None),
            resource=self.class_permission_name,
            query=request.query_string.decode("utf-8", "replace"),
            rows=count,
            now=utcnow(),
        )
        stamp = local_now().strftime("%Y%m%d-%H%M")
        response = send_file(
            path,
            as_attachment=True,
            download_name=f"{title}-{stamp}.xlsx",
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response.call_on_close(lambda: os.remove(path))
        return response

    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk):
        """FAB's single-record action, refusing a record this user cannot reach (row scoping)."""
        if self.datamodel.get(self._deserialize_pk_if_composite(pk)) is None:
            abort(404)
        return super().action(name, pk)

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        """FAB's action on ticked rows, refusing any row this user cannot reach (row scoping)."""
        for pk in request.form.getlist("rowid"):
            if self.datamodel.get(self._deserialize_pk_if_composite(pk)) is None:
                abort(404)
        return super().action_post()

    def _fill_form_exclude_cols(self, exclude_cols, form):
        """FAB fills the relation an "add" from a related list is for; mark it given, so that a required
        relation (checked on the raw input) passes."""
        super()._fill_form_exclude_cols(exclude_cols, form)
        for name in exclude_cols:
            field = getattr(form, name, None)
            if field is not None and getattr(field.data, "id", None) is not None:
                field.raw_data = [str(field.data.id)]

    def check_record(self, item):
        """A view's own rule on a record about to be added or saved (raise DomainError to refuse)."""

    def pre_add(self, item):
        self.check_record(item)

    def pre_update(self, item):
        try:
            self.check_record(item)
            check_update(db.session, item)
        except DomainError:
            db.session.rollback()  # FAB shows the message; the refused change must not flush later
            raise

    def pre_delete(self, item):
        check_delete(db.session, item)


class CrmView(CrmModelView):
    """The app's record pages: permissions by method (list, show, add, edit, delete, export)."""

    method_permission_name = VIEW_METHOD_PERMISSIONS
    page_size = 25


class CrmModelApi(DescribedApi, ModelRestApi):
    """A FAB ModelRestApi with the same field rules, record rules and labels as the pages."""

    quick_search = ()

    def __init__(self):
        model = self.datamodel.obj
        validators = dict(self.validators_columns or {})
        for column in model.__table__.columns:
            info = column.info
            if "choices" in info:
                validators.setdefault(column.key, _schema_choice(info["choices"]))
            elif "check" in info:
                validators.setdefault(column.key, _schema_rule(info["check"]))
        self.validators_columns = validators
        # a field's description is the model's own, or none (FAB would ask gettext for "")
        descriptions = {
            column.key: column.info.get("description") or column.doc or column.comment
            for column in model.__table__.columns
        }
        descriptions.update(self.description_columns or {})
        self.description_columns = {name: text for name, text in descriptions.items() if text}
        page = next(
            (
                view
                for view in current_app.appbuilder.baseviews
                if isinstance(view, CrmModelView) and view.datamodel.obj is model
            ),
            None,
        )
        columns = [c.key for c in model.__table__.columns] + [
            c
            for cols in (self.list_columns, self.show_columns, self.add_columns, self.edit_columns)
            for c in cols or ()
        ]
        self.label_columns = dict(
            column_labels(columns, dict(page.label_columns) if page else {}), **(self.label_columns or {})
        )
        for name, title in titles(model.__name__).items():
            setattr(self, name, getattr(self, name, None) or title)
        if self.quick_search:
            search_filters = dict(self.search_filters or {})
            search_filters.setdefault(self.quick_search_column, []).append(quick_search_filter(self.quick_search))
            if unit_path(model) is not None:  # (col:<that column>,opr:crm_building|crm_unit,value:N)
                search_filters[self.quick_search_column] += [FilterInBuilding, FilterInUnit]
            self.search_filters = search_filters
        super().__init__()

    @property
    def quick_search_column(self):
        return self.quick_search[0].split(".")[0]

    def _handle_domain_error(self, call, *args):
        from sqlalchemy.exc import SQLAlchemyError

        try:
            return call(*args)
        except DomainError as error:
            db.session.rollback()
            payload = {error.field: [str(error)]} if error.field else str(error)
            return self.response(error.status, message=payload)
        except (SQLAlchemyError, TypeError, ValueError, OverflowError, AttributeError, LookupError):
            # data the schema let through but the database or a relation cannot take (a missing
            # required relation, a malformed related id, a clash): a clear 422, nothing saved
            db.session.rollback()
            return self.response(
                422, message=str(_("The data is not valid: check the required fields and the related records."))
            )

    def _check_record(self, item):
        check_unique_together(db.session, type(item), column_values(item), exclude_pk=item.id)

    def pre_add(self, item):
        self._check_record(item)

    def pre_update(self, item):
        self._check_record(item)
        check_update(db.session, item)

    def pre_delete(self, item):
        check_delete(db.session, item)

    # ---- field permissions on the API: hidden fields absent, masked ones masked, writes refused

    def _field_access(self):
        return self.appbuilder.sm.field_access(self.class_permission_name)

    def _strip(self, access, record):
        level_record(access, record)

    def _strip_response(self, data, result_key):
        access = self._field_access()
        if not access:
            return
        result = data.get(result_key)
        for record in result if isinstance(result, list) else [result] if isinstance(result, dict) else []:
            self._strip(access, record)
        for key in ("list_columns", "show_columns", "order_columns", "add_columns", "edit_columns"):
            if isinstance(data.get(key), list):
                data[key] = [c for c in data[key] if not access.hidden(c)]
        for key in ("label_columns", "description_columns", "filters"):
            if isinstance(data.get(key), dict):
                data[key] = {c: v for c, v in data[key].items() if not access.hidden(c)}

    def add_api_spec(self, api_spec):
        """The OpenAPI document is built per request: leave out what this user may not see."""
        super().add_api_spec(api_spec)
        access = self._field_access()
        if not access:
            return
        prefix = f"{self.__class__.__name__}."
        for name, schema in api_spec.components.schemas.items():
            if not name.startswith(prefix) or not isinstance(schema, dict):
                continue
            properties = schema.get("properties", {})
            for field in [f for f in properties if access.hidden(f)]:
                del properties[field]
            if "required" in schema:
                schema["required"] = [f for f in schema["required"] if not access.hidden(f)]

    def pre_get_list(self, data):
        self._strip_response(data, "result")

    def pre_get(self, data):
        self._strip_response(data, "result")

    def info_headless(self, **kwargs):
        response = super().info_headless(**kwargs)
        access = self._field_access()
        if access and response.status_code == 200:
            data = response.get_json()
            for key in ("add_columns", "edit_columns"):
                if isinstance(data.get(key), list):
                    data[key] = [c for c in data[key] if access.writable(c.get("name", ""))]
            if isinstance(data.get("filters"), dict):
                data["filters"] = {c: v for c, v in data["filters"].items() if not access.hidden(c)}
            return self.response(200, **data)
        return response

    def get_list_headless(self, **kwargs):
        access = self._field_access()
        rison = kwargs.get("rison") or {}
        filtered = [f.get("col", "") for f in rison.get("filters", []) or [] if isinstance(f, dict)]
        filtered.append(rison.get("order_column", ""))
        shown = [c for c in rison.get("columns", []) or [] if isinstance(c, str)]
        # a hidden or masked field is never a criterion: answering would tell its value
        if access and (
            any(isinstance(c, str) and c and not access.searchable(c) for c in filtered)
            or any(access.hidden(c) for c in shown)
        ):
            return self.response_400(message=str(_("Filtering or ordering on a hidden field is not allowed.")))
        return super().get_list_headless(**kwargs)

    def _refuse_protected_fields(self):
        access = self._field_access()
        payload = request.get_json(silent=True)
        if access and isinstance(payload, dict):
            refused = sorted(key for key in payload if not access.writable(key))
            if refused:
                message = str(_("You may not change these fields: %(fields)s", fields=", ".join(refused)))
                return self.response(403, message=message)
        return None

    def post_headless(self):
        return (
            self._refuse_malformed_body(self.add_model_schema)
            or self._refuse_protected_fields()
            or self._handle_domain_error(super().post_headless)
        )

    def put_headless(self, pk):
        return (
            self._refuse_malformed_body(self.edit_model_schema)
            or self._refuse_protected_fields()
            or self._handle_domain_error(super().put_headless, pk)
        )

    def delete_headless(self, pk):
        return self._handle_domain_error(super().delete_headless, pk)

    # ---- malformed requests: a 400 that says what was wrong (app.web.api_arguments), never a 500

    @before_request(only=["get_list", "get", "info"])
    def _refuse_malformed_q(self):
        """``q`` parsed and shaped before FAB reads it (FAB's parser can crash; this runs before sign-in,
        so it looks at no record)."""
        endpoint = request.endpoint.rpartition(".")[2]
        try:
            check_q(
                endpoint,
                read_q(request.args.get("q")),
                {"add_columns": self.add_columns, "edit_columns": self.edit_columns},
            )
        except ArgumentError as error:
            return self.response_400(message=error.message)
        return None

    # FAB's argument steps of the list and show (each turns its exception into a 400)

    def _handle_columns_args(self, args, default_select_columns, default_response_columns):
        try:
            check_columns(args.get("select_columns") or args.get("columns") or [], default_response_columns)
        except ArgumentError as error:
            raise InvalidColumnArgsFABException(error.message) from None
        return super()._handle_columns_args(args, default_select_columns, default_response_columns)

    def _handle_order_args(self, rison_args):
        try:
            check_order(rison_args.get("order_column"), self.order_columns)
        except ArgumentError as error:
            raise InvalidOrderByColumnFABException(error.message) from None
        return super()._handle_order_args(rison_args)

    def _handle_filters_args(self, rison_args):
        try:
            typed = [typed_filter(self.datamodel, self._filters, item) for item in rison_args.get("filters", [])]
        except ArgumentError as error:
            raise InvalidColumnFilterFABException(error.message) from None
        return super()._handle_filters_args(dict(rison_args, filters=typed))

    def _refuse_malformed_body(self, schema):
        try:
            read_body(schema)
        except ArgumentError as error:
            return self.response_400(message=error.message)
        return None

    def _get_field_info(self, field, filter_rel_field, page=None, page_size=None):
        """FAB's details of a field, with the description only when there is one (FAB translates ""
        for the others, which answers the translation catalogue's header)."""
        info = super()._get_field_info(field, filter_rel_field, page=page, page_size=page_size)
        description = self.description_columns.get(field.name)
        if description:
            info["description"] = str(description)
        else:
            info.pop("description", None)
        if not self.label_columns.get(field.name):
            info["label"] = field.name
        return info


def _schema_choice(choices):
    def validate(value):
        if value is not None and value not in choices:
            raise SchemaValidationError(str(_("Not a valid choice: %(value)s", value=value)))

    return validate


def _schema_rule(check_name):
    def validate(value):
        message = check_value(check_name, value)
        if message:
            raise SchemaValidationError(str(message))

    return validate


# ---------------------------------------------------------------- lookups for AJAX selects


def lookup_paths(model):
    """What a searchable select of ``model`` matches: ``__lookup__`` (which also makes the forms' fields
    for it searchable selects) or ``__lookup_paths__`` (a model picked by search only in list filters)."""
    return getattr(model, "__lookup__", None) or getattr(model, "__lookup_paths__", ())


def chosen_text(resource, record):
    """A chosen record as a picker shows it: by the field levels of its own page, as the lookup does."""
    entry = LookupView.resources.get(resource)
    if entry is None:
        return str(record)
    return current_app.appbuilder.sm.field_access(entry[1]).shown_as_text(record)


class LookupView(BaseView):
    """Matches for the searchable selects; a user sees only what they may list."""

    route_base = "/lookup"
    default_view = "lookup"
    class_permission_name = "Lookup"
    method_permission_name = {"lookup": "read"}
    resources = {}  # table name -> (model, view permission name)

    @expose("/<resource>")
    @has_access_api
    def lookup(self, resource):
        entry = self.resources.get(resource)
        if entry is None:
            return jsonify(results=[]), 404
        model, permission_view = entry
        if not self.appbuilder.sm.has_access("can_read", permission_view):
            return jsonify(results=[]), 403
        term = request.args.get("q", "").strip()
        access = self.appbuilder.sm.field_access(permission_view)
        query = db.session.query(model)
        for column in getattr(model, "__lookup_filters__", ()):  # e.g. ?customer_id=5: that customer's tickets
            value = request.args.get(column, type=int)
            if value:
                query = query.filter(getattr(model, column) == value)
        if term:
            paths = [path for path in lookup_paths(model) if access.searchable(path)]
            clauses = [contains(model, paths, term, db.session.get_bind().dialect.name)] if paths else []
            if clauses:
                clauses += _unit_key_clauses(model, term, access)
            query = query.filter(or_(*clauses) if clauses else false())
        limit = current_app.config["CRM_LOOKUP_LIMIT"]
        rows = (
            query.options(*eager_options(model, getattr(model, "__display_relations__", ())))
            .order_by(
                *(
                    model.lookup_order()
                    if hasattr(model, "lookup_order")
                    else (getattr(model, display_column(model)), model.id)
                )
            )
            .limit(limit)
            .all()
        )
        detail = getattr(model, "__lookup_detail__", None)

        def text(row):
            value = getattr(row, detail, None) if detail and not access.hidden(detail) else None
            if value and access.masked(detail):
                value = mask(detail, value)
            shown = access.shown_as_text(row)
            return f"{shown} ({value})" if value else shown

        return jsonify(results=[{"id": row.id, "text": text(row)} for row in rows])


def _list_view_here():
    """The CRM list view serving this request, if any."""
    return next(
        (
            v
            for v in current_app.appbuilder.baseviews
            if type(v).__name__ == request.blueprint and isinstance(v, CrmModelView)
        ),
        None,
    )


def list_columns_here():
    """For the list template: the current list's column choices."""
    view = _list_view_here()
    return view.column_choices() if view is not None else []


def saved_views_here():
    """For the list template: the saved views of the list being shown, for the current user."""
    user = getattr(g, "user", None)
    if not getattr(user, "is_authenticated", False) or not request.blueprint:
        return []
    return views_for(db.session, user.id, [role.id for role in user.roles], request.blueprint)


def unit_filters_here():
    """For the list template: the current list's 楼栋 and 房屋 filters, or None."""
    view = _list_view_here()
    return view.unit_filter_choices() if view is not None else None


def building_filter_here():
    """For the list template: the building a dashboard drill-down narrowed this list to, or None."""
    view = _list_view_here()
    return view.building_filter_name() if view is not None else None
