"""Text search: "contains" over the searched text of records, answered by an index where there is one.

``contains(model, paths, term, dialect)`` is the one clause every search box and lookup uses: the rows
of ``model`` where any of ``paths`` (columns, or columns of related rows: ``customer.name``,
``units.unit.number``) contains ``term``. The answer is always that of ``LIKE '%term%'`` (ILIKE on
PostgreSQL); only the way to it differs.

SQLite: the text of the tables in ``INDEXED`` is kept in an FTS5 table ``<table>_fts`` (trigram
tokenizer, contentless: it stores the index, not a second copy of the text). Database triggers
(migration "text search indexes") keep it in step on every write path: pages, API, imports, bulk
generation, raw SQL. Each value is indexed with two padding characters (``PAD``) appended, so every
character of the text starts a trigram:

- a term of 3 characters or more is an FTS5 phrase of its trigrams: ``{title number}: "漏水管"``,
  the column filter holding only the columns the user may search;
- a term of 1 or 2 characters has no trigram of its own (FTS5 matches nothing for it), but each of its
  occurrences is the start of an indexed trigram (the padding covers the end of a value). The distinct
  trigrams starting with it are read from the ``<table>_fts_words`` fts5vocab list by a range on the
  term (``term >= '王' AND term < '王' + 1``) and joined into one FTS5 query, ``{title}: ("王秀英" OR
  "王建国" OR …)``, inside the same statement; FTS5 merges their row lists. Measured at 100,000
  tickets: 漏水 1.4 ms, 水 9.6 ms, where reading every occurrence from the instance list took 6.4 and
  50 ms and LIKE scans every row. A separate unigram/bigram index would need a tokenizer SQLite does
  not ship and would double the index.

The trigram tokenizer folds case of all letters where SQLite's LIKE folds only ASCII: a search for
"É" also finds "é" (PostgreSQL's ILIKE does the same). A relation is followed as ``fk IN (SELECT …)``
(``related_in``; PostgreSQL: ``fk = ANY(ARRAY(SELECT …))``): the related table's index answers once for
the whole search.

PostgreSQL: ``ILIKE '%term%'`` on the columns themselves, which the ``pg_trgm`` GIN indexes of the same
migration answer for terms of 3 characters or more. A term of 1 or 2 characters is looked up in GIN
indexes over each value's characters and character pairs (``crm_short_grams``, migration 7c4e2f9a1b63):
the same answer as ILIKE, from an index.
"""

import contextlib

from sqlalchemy import (
    String,
    UnaryExpression,
    any_,
    bindparam,
    column,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm.interfaces import MANYTOONE
from sqlalchemy.sql import operators

# table -> the columns its FTS table indexes (the migration holds its own copy of this list)
INDEXED = {
    "ticket": ("number", "title", "description"),
    "customer": ("name", "phone"),
    "unit": ("number",),
}
PAD = "\x1f\x1f"


def is_text_index(name, kind):
    """The text search's own tables (FTS5 tables and their shadow and vocab tables) and indexes (PostgreSQL):
    no model's, so schema comparisons, migrations' autogenerate and backup counts leave them."""
    return kind == "table" and "_fts" in (name or "") or kind == "index" and (name or "").endswith(("_trgm", "_grams"))


def escape_like(term):
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# more matches than this and a list page walks its order's index, keeping the matching rows
MANY_MATCHES = 1000


class ManyMatches(str):
    """A search term of which a list page counted more than MANY_MATCHES matches (its filters' value)."""


def contains(model, paths, term, dialect, many=False):
    """Rows of ``model`` where any of ``paths`` contains ``term`` (a raw term: no LIKE wildcards).

    ``many`` (a list page that counted more than MANY_MATCHES, in an order an index keeps): on SQLite the
    clause is wrapped in a unary plus, so the planner does not fetch every matching row by its id to sort
    them all (thousands of random reads for a page of 100) but walks the order's index and tests each
    row against the matching ids (read once from the text index): a page's worth of index entries.
    On PostgreSQL a short term's page tests ILIKE on the row's own columns for the same reason.
    Few matches keep the plain clause: fetching them is cheaper than walking the index to its end."""
    groups = {}  # relation path -> its columns, so one index answers all columns of one table
    for path in paths:
        relations, _, name = path.rpartition(".")
        groups.setdefault(relations, []).append(name)
    clauses = [
        _through(model, relations.split(".") if relations else [], names, term, dialect, many)
        for relations, names in groups.items()
    ]
    if not clauses:
        return false()
    clause = or_(*clauses)
    if many and dialect == "sqlite":
        return UnaryExpression(clause.self_group(), operator=operators.custom_op("+"))
    return clause


def ordered_by_index(model, order_column):
    """Is ``order_column`` (a list's order; none: the primary key) the first column of an index of ``model``?"""
    if not order_column:
        return True
    if "." in order_column or order_column not in model.__table__.c:
        return False
    return (
        any(index.columns.keys()[:1] == [order_column] for index in model.__table__.indexes)
        or model.__table__.c[order_column].primary_key
    )


def _through(model, relations, names, term, dialect, many=False):
    if relations:
        prop = getattr(model, relations[0]).property
        target = prop.mapper.class_
        return related_in(prop, target, _through(target, relations[1:], names, term, dialect), dialect)
    indexed = INDEXED.get(model.__tablename__, ())
    if dialect == "sqlite" and PAD[0] not in term:
        in_index = [name for name in names if name in indexed]
    elif dialect == "postgresql" and len(term) < 3 and not many:  # shorter than pg_trgm's trigrams
        # (many matches: the page walks its order's index testing ILIKE, cheaper than every match's id)
        in_index = [name for name in names if name in indexed]
    else:
        in_index = []
    clauses = [_like(getattr(model, name), term, dialect) for name in names if name not in in_index]
    if in_index and dialect == "sqlite":
        clauses.append(model.id.in_(matching_ids(model.__tablename__, in_index, term)))
    elif in_index:
        clauses.append(_in(model.id, _with_short_term(model, in_index, term), dialect))
    return or_(*clauses)


def _like(attr, term, dialect):
    pattern = f"%{escape_like(term)}%"
    if dialect == "sqlite":  # SQLite's LIKE ignores ASCII case already; lower() on every row is wasted
        return attr.like(pattern, escape="\\")
    return attr.ilike(pattern, escape="\\")


def matching_ids(table_name, columns, term):
    """SELECT of the ids of ``table_name`` whose ``columns`` contain ``term``, from its FTS table (SQLite)."""
    fts = table(f"{table_name}_fts", column("rowid"))
    in_columns = "{%s}: " % " ".join(columns)
    if len(term) >= 3:
        query = bindparam(None, in_columns + _phrase(term))
    else:
        query = _trigrams_starting_with(table_name, in_columns, term.lower())
    return select(fts.c.rowid).where(literal_column(f"{table_name}_fts").op("MATCH")(query))


def _with_short_term(model, columns, term):
    """PostgreSQL: SELECT of the ids of ``model`` whose ``columns`` contain a 1–2 character ``term``, from
    the GIN indexes over their characters and character pairs (migration 7c4e2f9a1b63). Kept as a
    subquery of ids: given the bare condition, the planner may walk the list's order index and compute
    each row's pairs (costly) instead of reading the index."""
    wanted = postgresql.array([func.lower(bindparam(None, term, String))])
    return select(model.id).where(
        or_(*[func.crm_short_grams(getattr(model, name)).op("@>")(wanted) for name in columns])
    )


def _phrase(text):
    return '"%s"' % text.replace('"', '""')


# an FTS5 query that matches no row (a phrase and NOT itself), for a short term no indexed trigram starts with
NO_ROW = '"\x1f\x1f\x1f" NOT "\x1f\x1f\x1f"'


def _trigrams_starting_with(table_name, in_columns, prefix):
    """The FTS5 query, built in SQL, "any indexed trigram that starts with ``prefix``": the trigrams are
    read from the ``<table>_fts_words`` list (one row per distinct trigram) by a range on ``prefix``,
    and FTS5 merges their row lists itself, about five times faster than reading every occurrence
    from the instance table."""
    term = column("term", String)
    words = table(f"{table_name}_fts_words", term)
    phrase = literal('"', String) + func.replace(term, '"', '""') + literal('"', String)
    query = literal(in_columns + "(", String) + func.group_concat(phrase, " OR ") + literal(")", String)
    return (
        select(func.coalesce(query, literal(NO_ROW, String)))
        .select_from(words)
        .where(term >= bindparam(None, prefix), term < bindparam(None, _next(prefix)))
        .scalar_subquery()
    )


def _next(prefix):
    """The smallest string after every string starting with ``prefix`` (UTF-8 keeps code point order)."""
    code = ord(prefix[-1]) + 1
    if 0xD800 <= code <= 0xDFFF:  # no surrogates in UTF-8
        code = 0xE000
    return prefix[:-1] + chr(min(code, 0x10FFFF))


def related_in(prop, target, inner, dialect):
    """``inner`` on a related row as ``fk IN (SELECT …)``: evaluated once for the whole search, where
    has()/any() would be a correlated EXISTS run for every row of a large table. On PostgreSQL it is
    ``fk = ANY(ARRAY(SELECT …))``: an array computed once that the foreign key's index answers, so a
    search over several columns is one BitmapOr of index scans (an IN subquery among ORed conditions
    makes PostgreSQL scan the whole table)."""
    pairs = prop.local_remote_pairs
    if prop.secondary is None and len(pairs) == 1:
        local, remote = pairs[0]
        return _in(local, select(remote).where(inner).correlate(None), dialect)
    if prop.secondary is not None and len(pairs) == 2:
        (local, secondary_local), (target_key, secondary_target) = pairs
        if local.table is not prop.parent.local_table:
            (target_key, secondary_target), (local, secondary_local) = pairs
        matching = select(target_key).where(inner).correlate(None)
        return _in(
            local, select(secondary_local).where(_in(secondary_target, matching, dialect)).correlate(None), dialect
        )
    attr = getattr(prop.parent.class_, prop.key)
    return attr.has(inner) if prop.direction is MANYTOONE else attr.any(inner)


def _in(key, subquery, dialect):
    if dialect == "postgresql":
        return key == any_(func.array(subquery.scalar_subquery()))
    return key.in_(subquery)


@contextlib.contextmanager
def indexed_at_the_end(connection):
    """SQLite: rows inserted in bulk inside the block are added to the text indexes once, at its end,
    by one INSERT … SELECT per table (what the migration does for existing rows), and not row by row
    by the insert triggers: each row's trigger made its own statement journal, and a million tickets
    took most of an hour. The triggers are dropped and restored in the caller's transaction, so a
    failure rolls back both. Other databases: nothing to do (their indexes are not triggers)."""
    if connection.dialect.name != "sqlite":
        yield
        return
    paused = {}
    for name in INDEXED:
        trigger = f"{name}_fts_insert"
        sql = connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (trigger,)
        ).scalar()
        if sql is None:
            continue
        paused[name] = (sql, connection.exec_driver_sql(f'SELECT coalesce(max(id), 0) FROM "{name}"').scalar())
        connection.exec_driver_sql(f"DROP TRIGGER {trigger}")
    yield
    for name, (sql, last_id) in paused.items():
        columns = INDEXED[name]
        padded = ", ".join(f"{column} || ?" for column in columns)  # as the trigger indexes them
        connection.exec_driver_sql(
            f'INSERT INTO {name}_fts(rowid, {", ".join(columns)}) SELECT id, {padded} FROM "{name}" WHERE id > ?',
            (*[PAD] * len(columns), last_id),
        )
        connection.exec_driver_sql(sql)


# ---------------------------------------------------------------- planner statistics


def refresh_statistics(connection, tables=None, merge_indexes=False):
    """Planner statistics after a change in bulk.

    ``tables=None`` (after ``crm init`` and ``crm generate``): ANALYZE of everything. A list of tables
    (after an import): those tables, on SQLite sampled (``analysis_limit``) so an import of a few rows
    into a million does not read the million. ``tables=()`` (the daily job): on SQLite only
    ``PRAGMA optimize``, which analyzes what changed enough since; PostgreSQL's autovacuum does that.
    ``merge_indexes`` (after a bulk load, SQLite): each FTS index's segments merged into one b-tree.
    """
    from sqlalchemy import text

    sqlite = connection.dialect.name == "sqlite"
    if merge_indexes and sqlite:
        for name in INDEXED:
            connection.execute(text(f"INSERT INTO {name}_fts({name}_fts) VALUES ('optimize')"))
    if tables is None:
        connection.execute(text("ANALYZE"))
    elif tables:
        if sqlite:
            connection.execute(text("PRAGMA analysis_limit=1000"))
        for name in tables:
            connection.execute(text(f'ANALYZE "{name}"'))
        if sqlite:
            connection.execute(text("PRAGMA analysis_limit=0"))
    if sqlite:
        connection.execute(text("PRAGMA optimize"))
