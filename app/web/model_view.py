"""CrmModelView: the model page every domain declares (columns, search, order, related lists), with the field levels, row scope and record rules applied on every action; and the template helpers of its list."""

import os
import re

from flask import abort, current_app, flash, g, has_request_context, redirect, request, send_file, url_for
from flask_appbuilder import ModelView, expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.models.mixins import FileColumn
from flask_appbuilder.models.sqla.filters import FilterRelation
from flask_appbuilder.urltools import get_page_args, get_page_size_args
from flask_appbuilder.fields import QuerySelectField, QuerySelectMultipleField
from flask_appbuilder.widgets import ListWidget, RenderTemplateWidget, SearchWidget, ShowWidget
from flask_babel import get_locale
from flask_babel import lazy_gettext as _
from markupsafe import Markup
from sqlalchemy import Date, or_
from sqlalchemy.orm.interfaces import MANYTOMANY, MANYTOONE

from app.core.clock import local_now, local_zone
from app.core.column_types import UTCDateTime, utcnow
from app.core.errors import DomainError
from app.extensions import db
from app.core.labels import COLUMN_LABELS, MODEL_LABELS
from app.policy.attachments import (
    MIME_TYPES,
    is_stored_name,
    original_name,
)
from app.policy.field_permissions import HIDDEN, MASKED, READONLY, mask
from app.policy.permissions import RESOURCE_BUILDING, RESOURCE_UNIT, VIEW_METHOD_PERMISSIONS
from app.policy.records import (
    check_delete,
    check_update,
    unique_together_constraints,
)
from app.property.units import units_searchable
from app.web.batch import apply_batch, batch_fields
from app.web.date_fields import (
    LocalDateField,
    LocalDateTimeField,
)
from app.web.exports import record_export, write_xlsx
from app.web.fields import (
    AjaxMultiSelectField,
    AjaxSelectField,
    AttachmentField,
    PermittedForm,
    choice_select,
    format_attachment,
    format_datetime,
    format_many,
    format_money,
    format_plain,
    format_related,
    label_blank_choice,
    required_validator,
    rule_validator,
    unique_together_validator,
)
from app.web.filters import FilterInBuilding, FilterInUnit, building_argument, quick_search_filter, unit_argument
from app.web.interface import cell_renderer, column_getter, column_info, eager_options, page_columns, relation_target
from app.web.listing import ListArgs, export_value, masking, record_ids
from app.web.saved_views import delete_view, save_view, views_for
from app.models import Building
from app.models import Unit
from app.web.exports import queue_export


def model_label(model):
    return MODEL_LABELS.get(model.__name__, model.__name__)


class CrmListWidget(ListWidget):
    """FAB's list table, rendering each row's links without a url_for and translations per row."""

    template = "crm/widgets/list.html"


class CrmShowWidget(ShowWidget):
    """FAB's record table, its rows (label, formatted value) computed before the template."""

    template = "crm/widgets/show.html"


# fields whose options are records (their HTML follows the data and the request)
RECORD_FIELDS = (QuerySelectField, QuerySelectMultipleField, AjaxSelectField)


class CrmSearchWidget(SearchWidget):
    """FAB's filter box, with the HTML of each field that lists no records kept per (page, field, language).

    FAB renders every filterable field to HTML on each list page (the script that adds filter rows
    copies it): a fifth of a list page's time. Text, choice and date inputs depend only on their
    definition and the language; a field that lists records (a related-record box, whose one option
    follows the request) is rendered each time."""

    def __call__(self, **kwargs):
        form, filters = self.template_args["form"], self.filters
        kept = current_app.extensions.setdefault("crm_search_fields", {})
        language = str(get_locale())
        search_filters = filters.get_search_filters()
        label_columns, form_fields, names = {}, {}, {}
        for col in self.template_args["include_cols"]:
            field = form[col]
            label_columns[col] = str(field.label.text)
            if isinstance(field, RECORD_FIELDS) or field.raw_data:  # lists records, or holds the request's value
                form_fields[col] = field()
            else:
                key = (self.template_args["route_base"], col, language)
                if key not in kept:
                    kept[key] = field()
                form_fields[col] = kept[key]
            names[col] = [str(flt.name) for flt in search_filters[col]]
        kwargs.update(
            label_columns=label_columns,
            form_fields=form_fields,
            search_filters=names,
            active_filters=filters.get_filters_values_tojson(),
        )
        return RenderTemplateWidget.__call__(self, **kwargs)


class CrmModelView(ModelView):
    """A FAB ModelView whose forms, labels, formats and loading derive from the model."""

    list_widget = CrmListWidget
    show_widget = CrmShowWidget
    search_widget = CrmSearchWidget
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
            return ([required_validator()] if required else []) + list(validators.get(name, []))

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
                if access.searchable(f.column_name) and (not isinstance(f, FilterRelation) or record_ids(v))
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

        found = db.session.get(Building, building)
        return found.name if found else "—"

    def unit_filter_choices(self):
        """For the list page's 楼栋 and 房屋 filters: each filter this user may use, with its lookup
        address and the chosen record (id, text) or None; None when the list has no such filters."""
        model = self.datamodel.obj
        if not self.unit_filters or not units_searchable(model, self._field_access()):
            return None

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
        formatters = self._formatters_for(access)
        shown = {}
        for column, value in zip(columns, self.datamodel.get_values_item(item, columns)):
            formatter = formatters.get(column)
            shown[column] = (self.label_columns.get(column), formatter(value) if formatter else value)
        fieldsets = []  # FAB's sections, each with the fields this user may see; none left: no section
        for title, spec in show_fieldsets or self.show_fieldsets or ():
            rows = [shown[c] for c in spec.get("fields", ()) if c in shown]
            if rows:
                fieldsets.append((title, True if spec.get("expanded") is None else spec["expanded"], rows))
        widgets["show"] = self.show_widget(
            pk=pk,
            rows=list(shown.values()),
            actions=actions or self.actions,
            fieldsets=fieldsets,
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
                formatters[field] = masking(field.split(".")[-1], formatters.get(field))
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
