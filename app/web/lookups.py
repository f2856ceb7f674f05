"""Searchable selects: the lookup endpoint an AJAX select asks, checked against the listed resource, and the text of a chosen record (as its field levels show it)."""

from flask import current_app, jsonify, request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access_api
from sqlalchemy import false, or_

from app.extensions import db
from app.core.text_search import contains
from app.policy.field_permissions import mask
from app.web.filters import unit_key_clauses
from app.web.interface import display_column, eager_options


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
                clauses += unit_key_clauses(model, term, access)
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
