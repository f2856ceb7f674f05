"""CrmModelApi: the REST resource of a model, with the same columns, rules, field levels and row scope as its page."""

from flask import current_app, request
from flask_appbuilder import ModelRestApi
from flask_appbuilder.exceptions import (
    InvalidColumnArgsFABException,
    InvalidColumnFilterFABException,
    InvalidOrderByColumnFABException,
)
from flask_appbuilder.hooks import before_request
from flask_babel import lazy_gettext as _
from marshmallow import ValidationError as SchemaValidationError

from app.core.errors import DomainError
from app.extensions import db
from app.core.validation import check_value
from app.policy.field_permissions import level_record
from app.policy.records import (
    check_delete,
    check_unique_together,
    check_update,
    column_values,
)
from app.property.units import unit_path
from app.web.api_arguments import ArgumentError, check_columns, check_order, check_q, read_body, read_q, typed_filter
from app.web.api_labels import DescribedApi, column_labels, titles
from app.web.filters import FilterInBuilding, FilterInUnit, quick_search_filter
from app.web.model_view import CrmModelView


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
