"""数据看板: the managers' dashboard, its widgets' JSON, the widget builder and the reports.

Pages stay thin: numbers come from app.reporting.dashboards and app.reporting.reports. Charts are drawn by ECharts
served by this app (node_modules, installed by the set-up); nothing is loaded from another host.
"""

import datetime
import os

from flask import Blueprint, Response, current_app, flash, g, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import has_access_api
from flask_babel import lazy_gettext as _
from wtforms import SelectField
from wtforms.validators import Optional

from app import models
from app.core.clock import local_today, local_zone, to_local
from app.core.errors import DomainError
from app.extensions import db
from app.core.labels import COLUMN_LABELS, MODEL_LABELS
from app.policy.field_permissions import may_read_field
from app.policy.principal import current_principal
from app.policy.permissions import RESOURCE_DASHBOARD, RESOURCE_DASHBOARD_WIDGET, RESOURCE_REPORT
from app.reporting.dashboards import (
    BUILTIN,
    BUILTIN_WIDGETS,
    SOURCES,
    WidgetRefused,
    builtin_data,
    check_widget,
    filter_choices,
    groupable_fields,
    measurable_fields,
    parse_filter,
    visible_widgets,
    widget_data,
)
from app.web.interface import CrmInterface
from app.web.model_view import CrmView
from app.reporting.reports import collection_report, service_report
from app.policy.audit import record_event
from app.reporting.reports import workbook


def _today():
    return local_today()


def _field_access(resource):
    return current_app.appbuilder.sm.field_access(resource)


def _list_views():
    """{model name: its main list view} (TicketView for Ticket, not the to-do lists)."""
    views = {}
    for view in current_app.appbuilder.baseviews:
        model = getattr(getattr(view, "datamodel", None), "obj", None)
        if model is not None and type(view).__name__ == f"{model.__name__}View":
            views[model.__name__] = view
    return views


_FILTER_CLASSES = {
    "eq": ("FilterEqual",),
    "rel": ("FilterRelationOneToManyEqual", "FilterRelationManyToManyEqual"),
    "gt": ("FilterGreater",),
    "lt": ("FilterSmaller",),
}


def _url_value(value):
    if isinstance(value, datetime.datetime):
        return to_local(value).isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def drill_url(drill, views=None):
    """The list URL (FAB's own filter arguments) that shows a point's records, or None when the
    user may not read that list or the list cannot filter that way."""
    if drill is None:
        return None
    sm = current_app.appbuilder.sm
    if drill.page:
        endpoint, args = drill.page
        view_name = endpoint.split(".")[0]
        view = next((v for v in current_app.appbuilder.baseviews if type(v).__name__ == view_name), None)
        if view is None or not sm.has_access("can_read", view.class_permission_name):
            return None
        return url_for(endpoint, **args)
    view = (views or _list_views()).get(drill.model)
    if view is None or not sm.has_access("can_read", view.class_permission_name):
        return None
    bounds = {}
    for field, op, value in drill.conditions:
        key = (field, op)
        if key in bounds and op in ("gt", "lt"):  # a bucket inside the date range: the tighter bound
            value = max(bounds[key], value) if op == "gt" else min(bounds[key], value)
        bounds[key] = value
    args = {}
    for (field, op), value in bounds.items():
        if op == "building":
            args["building"] = value
            continue
        filters = view._filters._search_filters.get(field) or []
        index = next((i for i, f in enumerate(filters) if type(f).__name__ in _FILTER_CLASSES[op]), None)
        if index is None:
            return None
        args[f"_flt_{index}_{field}"] = _url_value(value)
    return url_for(f"{type(view).__name__}.list", **args)


def widget_json(title, data):
    views = _list_views()
    return {
        "title": str(title),
        "chart": data.chart,
        "labels": [str(label) for label in data.labels],
        "unit": data.unit,
        "series": [
            {"name": s["name"], "data": s["data"], "links": [drill_url(d, views) for d in s["drill"]]}
            for s in data.series
        ],
    }


class DashboardView(BaseView):
    route_base = "/dashboard"
    default_view = "show"
    class_permission_name = RESOURCE_DASHBOARD
    method_permission_name = {"show": "read", "data": "read", "widget": "read"}

    def _filter(self):
        return parse_filter(request.args, local_zone().key, _today())

    @expose("/")
    @has_access
    def show(self):
        try:
            flt = self._filter()
        except DomainError as error:
            flash(str(error), "danger")
            return redirect(url_for(".show"))
        query = {
            k: v
            for k, v in (
                ("start", flt.start.isoformat()),
                ("end", flt.end.isoformat()),
                ("building", flt.building_id),
                ("department", flt.department_id),
            )
            if v
        }
        widgets = [(str(w.title), url_for(".data", key=w.key, **query), w.width, w.key) for w in BUILTIN_WIDGETS]
        role_ids = {role.id for role in g.user.roles}
        widgets += [
            (w.name, url_for(".widget", widget_id=w.id, **query), w.width, f"widget-{w.id}")
            for w in visible_widgets(db.session, role_ids)
        ]
        return self.render_template("crm/dashboard.html", widgets=widgets, flt=flt, **filter_choices(db.session))

    def _answer(self, title, produce):
        try:
            flt = self._filter()
            return jsonify(widget_json(title, produce(flt)))
        except WidgetRefused as error:
            return jsonify({"title": str(title), "error": str(error)}), 403
        except DomainError as error:
            return jsonify({"title": str(title), "error": str(error)}), 400

    @expose("/data/<key>")
    @has_access_api
    def data(self, key):
        widget = BUILTIN.get(key)
        if widget is None:
            return jsonify({"error": str(_("No such widget."))}), 404
        return self._answer(widget.title, lambda flt: builtin_data(db.session, key, flt, _field_access))

    @expose("/widget/<int:widget_id>")
    @has_access_api
    def widget(self, widget_id):
        role_ids = {role.id for role in g.user.roles}
        widget = next((w for w in visible_widgets(db.session, role_ids) if w.id == widget_id), None)
        if widget is None:
            return jsonify({"error": str(_("No such widget."))}), 404
        return self._answer(widget.name, lambda flt: widget_data(db.session, widget, flt, _field_access))


def _field_choices(kind):
    """Every field of every source a widget may use, labelled with the sources that have it."""
    fields = {}
    for source, model in SOURCES.items():
        names = groupable_fields(model) if kind == "group" else measurable_fields(model)
        for name in names:
            fields.setdefault(name, []).append(source)
    choices = [("", "—")]
    for name in sorted(fields):
        sources = "、".join(str(MODEL_LABELS.get(s, s)) for s in fields[name])
        choices.append((name, f"{COLUMN_LABELS.get(name, name)} ({name}) · {sources}"))
    return choices


class DashboardWidgetView(CrmView):
    """看板组件: admins define widgets without code (checked before saving)."""

    datamodel = CrmInterface(models.DashboardWidget)
    class_permission_name = RESOURCE_DASHBOARD_WIDGET
    list_columns = [
        "name",
        "source",
        "group_by",
        "bucket",
        "measure",
        "measure_field",
        "chart",
        "width",
        "position",
        "active",
    ]
    add_columns = edit_columns = [
        "name",
        "source",
        "group_by",
        "bucket",
        "measure",
        "measure_field",
        "filters",
        "chart",
        "width",
        "position",
        "active",
        "roles",
    ]
    show_columns = add_columns + ["created_at", "updated_at"]
    search_columns = ["name", "source", "chart", "active"]
    order_columns = ["name", "source", "position"]
    base_order = ("position", "asc")
    add_form_extra_fields = edit_form_extra_fields = {
        "group_by": SelectField(_("Group by"), choices=lambda: _field_choices("group"), validators=[Optional()]),
        "measure_field": SelectField(
            _("Measure field"), choices=lambda: _field_choices("measure"), validators=[Optional()]
        ),
    }

    def check_record(self, item):
        item.group_by = item.group_by or None
        item.measure_field = item.measure_field or None
        errors = check_widget(item)
        if errors:
            field, message = next(iter(errors.items()))
            raise DomainError(message, field=field)


class ReportView(BaseView):
    """服务绩效报表 and 收费报表 for a chosen period, as a page and as .xlsx with native charts."""

    route_base = "/reports"
    default_view = "service"
    class_permission_name = RESOURCE_REPORT
    method_permission_name = {"service": "read", "collection": "read", "download": "export"}
    REPORTS = {"service": _("Service performance report"), "collection": _("Fee collection report")}

    def _tables(self, kind, flt):

        if kind == "service":  # ratings figure only for who may see ratings' stars
            return service_report(db.session, flt, may_read_field(current_principal(), "TicketRating", "stars"))
        return collection_report(db.session, flt)

    def _page(self, kind):
        try:
            flt = parse_filter(request.args, local_zone().key, _today())
        except DomainError as error:
            flash(str(error), "danger")
            return redirect(url_for(f".{kind}"))
        tables = self._tables(kind, flt)
        return self.render_template(
            "crm/report.html",
            kind=kind,
            title=self.REPORTS[kind],
            tables=tables,
            flt=flt,
            **filter_choices(db.session),
        )

    @expose("/service/")
    @has_access
    def service(self):
        return self._page("service")

    @expose("/collection/")
    @has_access
    def collection(self):
        return self._page("collection")

    @expose("/<kind>.xlsx")
    @has_access
    def download(self, kind):

        if kind not in self.REPORTS:
            return jsonify({"error": str(_("No such report."))}), 404
        try:
            flt = parse_filter(request.args, local_zone().key, _today())
        except DomainError as error:
            flash(str(error), "danger")
            return redirect(url_for(f".{kind}"))
        title = str(self.REPORTS[kind])
        content = workbook(title, flt, self._tables(kind, flt))
        record_event(db.session, "export", "Report", 0, f"{kind} {flt.start}–{flt.end}")
        name = f"{kind}-report-{flt.start.isoformat()}-{flt.end.isoformat()}.xlsx"
        return Response(
            content,
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


def vendor_blueprint(app):
    """ECharts from node_modules (installed from package-lock.json by the set-up), served here."""
    folder = app.config.get("CRM_ECHARTS_DIR") or os.path.join(
        os.path.dirname(app.root_path), "node_modules", "echarts", "dist"
    )
    return Blueprint("vendor_echarts", __name__, static_folder=folder, static_url_path="/static/vendor/echarts")


DASHBOARD_MENU = ("Dashboards", _("Dashboards"), "fa-chart-pie")


def register_dashboard_views(appbuilder):
    category, category_label, category_icon = DASHBOARD_MENU
    appbuilder.add_view(
        DashboardView,
        "Dashboard",
        label=_("Operations dashboard"),
        icon="fa-tachometer-alt",
        category=category,
        category_label=category_label,
        category_icon=category_icon,
    )
    appbuilder.add_view(
        ReportView,
        "ServiceReport",
        href="/reports/service/",
        label=_("Service performance report"),
        icon="fa-clipboard-check",
        category=category,
        category_label=category_label,
    )
    appbuilder.add_link(
        "CollectionReport",
        href="/reports/collection/",
        label=_("Fee collection report"),
        icon="fa-file-invoice-dollar",
        category=category,
        category_label=category_label,
    )
    appbuilder.add_view(
        DashboardWidgetView,
        "DashboardWidgets",
        label=_("Dashboard widgets"),
        icon="fa-puzzle-piece",
        category=category,
        category_label=category_label,
    )
