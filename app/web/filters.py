"""List filters as the staff use them: typed dates and times, the quick search box, and the building and unit a list is narrowed to."""

import datetime

from flask import current_app
from flask_appbuilder.models.filters import BaseFilter, Filters
from flask_appbuilder.models.sqla.filters import SQLAFilterConverter
from flask_babel import lazy_gettext as _
from sqlalchemy import false, or_

from app.core.clock import local_zone
from app.core.text_search import ManyMatches, contains
from app.property.units import in_building, in_unit, unit_key_clause, unit_path, units_searchable
from app.web.date_fields import (
    TypedDateError,
    parse_typed_date,
    parse_typed_datetime,
)
from app.web.listing import ListArgs


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

    def _get_filters(self, cols):
        # what a model's columns convert to never changes: converted once per model, not for every
        # filter set a request builds (FAB converts every column of the model for each of them)
        kept = self.datamodel.__dict__.setdefault("_crm_converted_filters", {})
        key = (self.filter_converter, tuple(cols))
        if key not in kept:
            kept[key] = super()._get_filters(cols)
        return {col: list(filters) for col, filters in kept[key].items()}  # FAB extends these lists

    def copy(self):
        copied = CrmFilters(self.filter_converter, self.datamodel)
        copied.filters, copied.values = list(self.filters), list(self.values)
        return copied

    def get_joined_filters(self, filters):
        joined = CrmFilters(self.filter_converter, self.datamodel)
        joined.filters, joined.values = self.filters + filters.filters, self.values + filters.values
        return joined

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
        clauses += unit_key_clauses(model, term, access)
        return query.filter(or_(*clauses))


def unit_key_clauses(model, term, access):
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
