"""The model interface every page, API and export reads through: column introspection, eager loading of the listed relations, the cells of a list, and the query (order, page size cap) of app.policy.records' rules on add, edit and delete."""

import enum
import functools
import inspect
import operator

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.utils.base import get_column_root_relation, is_column_dotted
from markupsafe import escape
from sqlalchemy.orm import joinedload, load_only, selectinload
from sqlalchemy.orm.interfaces import MANYTOONE, ONETOMANY

from app.core.text_search import MANY_MATCHES, ManyMatches, ordered_by_index
from app.policy.field_permissions import display_field
from app.web.filters import CrmFilterConverter, CrmFilters, FilterQuickSearch


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


class CrmInterface(SQLAInterface):
    """SQLAInterface with eager loading of the listed relations and ordering by relations."""

    filter_converter_class = CrmFilterConverter

    def get_filters(self, search_columns=None, search_filters=None):
        return CrmFilters(
            self.filter_converter_class, self, search_columns=search_columns or [], search_filters=search_filters
        )

    def get_inner_filters(self, filters):
        """FAB's inner filters (plain columns, many-to-one and one-to-one paths) in a filter set whose
        conversions are kept (FAB's builds a new one, converting every column of the model)."""
        inner = CrmFilters(self.filter_converter_class, self)
        if filters:

            def inner_path(name):
                root = get_column_root_relation(name)
                return (
                    not is_column_dotted(name)
                    or self.is_relation_many_to_one(root)
                    or self.is_relation_one_to_one(root)
                )

            inner.add_filter_list(
                [
                    (f.column_name, f.__class__, v)
                    for f, v in zip(filters.filters, filters.values)
                    if inner_path(f.column_name)
                ]
            )
        return inner

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
