"""What a REST request may ask, checked at the door of app.web.model_api.CrmModelApi.

The ``q`` argument of the list, show and ``_info`` endpoints and the JSON body of an add or edit.
Whatever is malformed is refused with a 400 and a message that says what was wrong; FAB's handlers
would answer it with a 500 (rison that crashes the parser, a list where a text is expected, a page
beyond the database's integers) or quietly ignore it (an unknown argument, a date filter on
``'abc'``, a filter on a related record that does not exist) and answer something else than asked.

Two steps, because the first runs before FAB checks who is asking:

* ``read_q`` and ``check_q``: does ``q`` parse (rison, or JSON, which FAB accepts too) and does each
  argument have the type and range it must have. Nothing about any record.
* ``typed_filter``, ``check_columns``, ``check_order`` and ``read_body``: does the request make sense
  for this resource, its columns and the type of each column. Each filter value comes back as the
  column's type (a date, a Decimal, a record id), which is what the filters then compare with.
"""

import datetime
import json
import math
import re
import urllib.parse
from decimal import Decimal, InvalidOperation

import prison
from flask import current_app, request
from flask_appbuilder.api.schemas import (
    get_info_schema,
    get_item_schema,
    get_list_schema,
)
from flask_appbuilder.models.sqla import filters as fab_filters
from flask_babel import lazy_gettext as _
from marshmallow import ValidationError, fields
from marshmallow_sqlalchemy.fields import Related, RelatedList

BIGGEST = 2**63 - 1  # the databases' integers
LARGEST_PAGE = 2**31 - 1  # a page index or size beyond this is no page anyone asks for
LARGEST_NUMBER = Decimal(10) ** 18  # a number filter beyond this (or finer) compares with no amount or count


class ArgumentError(Exception):
    """A request argument or body that cannot be read; ``message`` (a text, or field -> texts) says why."""

    def __init__(self, message):
        super().__init__(message)
        self.message = str(message) if not isinstance(message, dict) else message


def _shown(value):
    """A value as the message quotes it (short)."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):
        text = "…"
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------- q: parse and shape (any resource)

# the arguments each endpoint reads (FAB's own argument schemas; the show endpoint also reads
# select_columns though its schema does not name it)
ARGUMENTS = {
    "get_list": set(get_list_schema["properties"]),
    "get": set(get_item_schema["properties"]) | {"select_columns"},
    "info": set(get_info_schema["properties"]),
}
KEYS = {
    name: schema["properties"]["keys"]["items"]["enum"]
    for name, schema in (("get_list", get_list_schema), ("get", get_item_schema), ("info", get_info_schema))
}


def read_q(text):
    """``q`` as FAB's rison decorator reads it: rison, else (if allowed) JSON; {} when absent."""
    if not text:
        return {}
    readers = [prison.loads]
    if current_app.config.get("FAB_API_ALLOW_JSON_QS", True):
        readers.append(lambda value: json.loads(urllib.parse.parse_qs(f"q={value}").get("q")[0]))
    for reader in readers:
        try:
            return reader(text)
        except prison.decoder.ParserException:
            continue  # FAB then tries JSON
        except Exception:  # noqa: BLE001 - the parser crashes on some input, e.g. "(((" or "!" (FAB: a 500)
            break
    raise ArgumentError(_("The q argument is neither valid rison nor JSON, e.g. q=(page:0,page_size:20)."))


def _whole(name, value, minimum, maximum=LARGEST_PAGE):
    if type(value) is not int or not minimum <= value <= maximum:
        raise ArgumentError(
            _(
                "%(name)s must be a whole number from %(minimum)s to %(maximum)s, not %(value)s.",
                name=name,
                minimum=minimum,
                maximum=maximum,
                value=_shown(value),
            )
        )


def _texts(name, value):
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ArgumentError(
            _("%(name)s must be a list of names, e.g. !(name,phone), not %(value)s.", name=name, value=_shown(value))
        )


def _one_of(name, value, choices):
    if not isinstance(value, str) or value not in choices:
        raise ArgumentError(
            _(
                "%(name)s must be one of %(choices)s, not %(value)s.",
                name=name,
                choices=", ".join(choices),
                value=_shown(value),
            )
        )


def _scalar(value):
    return isinstance(value, (str, bool, int)) or (isinstance(value, float) and math.isfinite(value))


def _check_filters(value):
    example = "filters:!((col:name,opr:ct,value:'王'))"
    if not isinstance(value, list):
        raise ArgumentError(_("filters must be a list of conditions, e.g. %(example)s.", example=example))
    for item in value:
        if (
            not isinstance(item, dict)
            or set(item) != {"col", "opr", "value"}
            or not isinstance(item["col"], str)
            or not isinstance(item["opr"], str)
        ):
            raise ArgumentError(
                _(
                    "Each filter needs exactly a column name col, an operator opr and a value, "
                    "e.g. %(example)s, not %(value)s.",
                    example=example,
                    value=_shown(item),
                )
            )
        found = item["value"]
        if not (_scalar(found) or isinstance(found, list) and all(_scalar(v) for v in found)):
            raise ArgumentError(
                _(
                    "The value of the filter on %(column)s must be a text, a number, true/false or "
                    "a list of these, not %(value)s.",
                    column=item["col"],
                    value=_shown(found),
                )
            )


def _check_field_pages(name, value, columns):
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ArgumentError(
            _(
                "%(name)s must name fields with their page of choices, e.g. "
                "%(name)s:(customer:(page:0,page_size:20)), not %(value)s.",
                name=name,
                value=_shown(value),
            )
        )
    unknown = sorted(str(column) for column in value if column not in columns)
    if unknown:
        raise ArgumentError(_("Unknown fields in %(name)s: %(fields)s.", name=name, fields=", ".join(unknown)))
    for column, pages in value.items():
        unknown = sorted(str(key) for key in pages if key not in ("page", "page_size"))
        if unknown:
            raise ArgumentError(
                _(
                    "Unknown arguments in %(name)s: %(arguments)s; use page and page_size.",
                    name=f"{name}.{column}",
                    arguments=", ".join(unknown),
                )
            )
        if "page" in pages:
            _whole(f"{name}.{column}.page", pages["page"], 0)
        if "page_size" in pages:
            _whole(f"{name}.{column}.page_size", pages["page_size"], 1)


def check_q(endpoint, q, field_columns=None):
    """Refuse a parsed ``q`` that ``endpoint`` ("get_list", "get", "info") cannot read as it stands.

    ``field_columns``: for ``_info``, the fields whose choices may be paged (add_columns, edit_columns).
    """
    if not isinstance(q, dict):
        raise ArgumentError(
            _(
                "The q argument must be a set of named arguments, e.g. q=(page:0,page_size:20), not %(value)s.",
                value=_shown(q),
            )
        )
    allowed = ARGUMENTS[endpoint]
    unknown = sorted(str(key) for key in q if key not in allowed)
    if unknown:
        raise ArgumentError(
            _(
                "Unknown arguments in q: %(arguments)s. This endpoint reads: %(allowed)s.",
                arguments=", ".join(unknown),
                allowed=", ".join(sorted(allowed)),
            )
        )
    if "keys" in q:
        _texts("keys", q["keys"])
        for key in q["keys"]:
            _one_of("keys", key, KEYS[endpoint])
    for name in ("columns", "select_columns"):
        if name in q:
            _texts(name, q[name])
    if q.get("columns") and q.get("select_columns"):
        raise ArgumentError(_("Ask for columns or for select_columns, not both."))
    if "order_column" in q and not isinstance(q["order_column"], str):
        raise ArgumentError(
            _("order_column must be the name of a column, not %(value)s.", value=_shown(q["order_column"]))
        )
    if "order_direction" in q:
        _one_of("order_direction", q["order_direction"], ("asc", "desc"))
    if "page" in q:
        _whole("page", q["page"], 0)
    if "page_size" in q:
        _whole("page_size", q["page_size"], 1)
    if "filters" in q:
        _check_filters(q["filters"])
    for name in ("add_columns", "edit_columns"):
        if name in q:
            _check_field_pages(name, q[name], (field_columns or {}).get(name, ()))


# ---------------------------------------------------------------- q: meaning (this resource)


def check_columns(requested, columns):
    """The columns a list or show asks for must be among those it shows."""
    unknown = [column for column in requested if column not in columns]
    if unknown:
        raise ArgumentError(_("Not columns of this list or record: %(columns)s.", columns=", ".join(unknown)))


def check_order(column, columns):
    if column and column not in columns:
        raise ArgumentError(_("The list cannot be ordered by %(column)s.", column=column))


_LIST_FILTERS = (fab_filters.FilterIn, fab_filters.FilterNotIn)
_ONE_RELATED = (fab_filters.FilterRelationOneToManyEqual, fab_filters.FilterRelationOneToManyNotEqual)
_FAB_FILTERS = tuple(getattr(fab_filters, name) for name in fab_filters.__all__)


def _column_kind(datamodel, column):
    if datamodel.is_relation(column):
        return "relation"
    for kind in ("boolean", "integer", "float", "numeric", "date", "datetime"):
        if getattr(datamodel, f"is_{kind}")(column):
            return kind
    return "text"


_EXPECTED = {
    "text": _("a text"),
    "integer": _("a whole number"),
    "float": _("a number"),
    "numeric": _("a number"),
    "boolean": _("true or false"),
    "date": _("a date such as 2026-01-31"),
    "datetime": _("a date and time such as 2026-01-31T09:30"),
    "relation": _("the id of a record (a whole number)"),
}


def _typed(kind, value):
    """``value`` read as ``kind``; ValueError when it is not one."""
    if kind == "text":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError
        value = str(value)
        if "\x00" in value:
            raise ValueError
        return value
    if kind in ("integer", "relation"):
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,19}", value.strip()):
            value = int(value)
        if type(value) is not int or not -BIGGEST <= value <= BIGGEST:
            raise ValueError
        return value
    if kind in ("float", "numeric"):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError from None
        if not number.is_finite() or abs(number) >= LARGEST_NUMBER or number.as_tuple().exponent < -18:
            raise ValueError
        return float(number) if kind == "float" else number
    if kind == "boolean":
        words = {"true": True, "y": True, "1": True, "false": False, "n": False, "0": False}
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in words:
            return words[value.strip().lower()]
        raise ValueError
    if kind == "date":
        if not isinstance(value, str):
            raise ValueError
        return datetime.date.fromisoformat(value.strip())
    if kind == "datetime":
        if not isinstance(value, str):
            raise ValueError
        value = datetime.datetime.fromisoformat(value.strip())
        if not 1 < value.year < 9999:  # the first and last years may not convert to UTC
            raise ValueError
        return value
    return value


def typed_filter(datamodel, filters, item):
    """A REST filter (col, opr, value) of this resource, its value read as the column's type.

    ``filters``: the resource's filter set (its search columns and the filters of each).
    """
    column, operator, value = item["col"], item["opr"], item["value"]
    if column not in filters.search_columns:
        raise ArgumentError(_("The list cannot be filtered on %(column)s.", column=column))
    available = filters._search_filters.get(column, [])
    found = next((f for f in available if f.arg_name == operator), None)
    if found is None:
        raise ArgumentError(
            _(
                "The operator %(operator)s is not available on %(column)s. It offers: %(operators)s.",
                operator=operator,
                column=column,
                operators=", ".join(f.arg_name for f in available),
            )
        )
    cls = found if isinstance(found, type) else type(found)
    # FAB's filters compare with the column's type; those of our own (the quick search) read a text
    kind = _column_kind(datamodel, column) if issubclass(cls, _FAB_FILTERS) else "text"
    many = issubclass(cls, _LIST_FILTERS) or (kind == "relation" and not issubclass(cls, _ONE_RELATED))
    single = not issubclass(cls, _LIST_FILTERS)
    if isinstance(value, list) and not many:
        raise ArgumentError(
            _("The filter %(operator)s on %(column)s takes one value, not a list.", operator=operator, column=column)
        )
    if not isinstance(value, list) and not single:
        raise ArgumentError(
            _(
                "The filter %(operator)s on %(column)s takes a list of values, e.g. !(a,b).",
                operator=operator,
                column=column,
            )
        )
    values = []
    for one in value if isinstance(value, list) else [value]:
        try:
            values.append(_typed(kind, one))
        except ValueError:
            raise ArgumentError(
                _(
                    "The filter on %(column)s needs %(expected)s, not %(value)s.",
                    column=column,
                    expected=_EXPECTED[kind],
                    value=_shown(one),
                )
            ) from None
    if kind == "relation":
        model = datamodel.get_related_model(column)
        for one in values:
            if datamodel.session.get(model, one) is None:
                raise ArgumentError(
                    _("There is no record %(value)s to filter %(column)s on.", value=one, column=column)
                )
    return dict(item, value=values if isinstance(value, list) else values[0])


# ---------------------------------------------------------------- bodies of add and edit

_FIELD_EXPECTED = (
    (fields.Integer, _("a whole number")),
    (fields.Number, _("a number in range")),
    (fields.Boolean, _("true or false")),
    (fields.Date, _("a date such as 2026-01-31")),  # before DateTime: a Date is one
    (fields.DateTime, _("a date and time such as 2026-01-31T09:30")),
    (fields.String, _("a text")),
    (fields.List, _("a list")),
    (fields.Dict, _("an object")),
)


def _record_id(value):
    return type(value) is int and -BIGGEST <= value <= BIGGEST


def _field_type_problem(field, value):
    """Why ``value`` is not of ``field``'s type (its rules are the schema's, later), or None."""
    if isinstance(field, RelatedList):
        ok = isinstance(value, list) and all(_record_id(v) for v in value)
        return None if ok else _("a list of record ids (whole numbers), e.g. [1, 2]")
    if isinstance(field, Related):
        return None if _record_id(value) else _("the id of a record (a whole number)")
    try:
        field._deserialize(value, field.name, {field.name: value})  # the reading alone, without the rules
    except (ValidationError, TypeError, ValueError, ArithmeticError):
        return next((text for kind, text in _FIELD_EXPECTED if isinstance(field, kind)), _("a valid value"))
    return None


def read_body(schema):
    """The JSON object of an add or edit, refused unless each of ``schema``'s fields it names has the
    field's type. The field's rules (a required field, a choice, a phone number) are the schema's, later."""
    if not request.is_json:
        raise ArgumentError(_("The request body must be JSON, sent with Content-Type: application/json."))
    try:
        payload = request.get_json()
    except Exception:  # noqa: BLE001 - not JSON, or nested too deep for the parser
        raise ArgumentError(_("The request body is not valid JSON.")) from None
    if not isinstance(payload, dict):
        raise ArgumentError(
            _(
                'The request body must be a JSON object of field values, e.g. {"name": "…"}, not %(value)s.',
                value=_shown(payload),
            )
        )
    wrong = {}
    for key, value in payload.items():
        # a field the schema does not take is the schema's to refuse (a 422, as for its other rules)
        field = schema.fields.get(key)
        problem = None if value is None or field is None else _field_type_problem(field, value)
        if problem is not None:
            wrong[key] = [str(_("Expected %(expected)s, not %(value)s.", expected=problem, value=_shown(value)))]
    if wrong:
        raise ArgumentError(wrong)
    return payload
