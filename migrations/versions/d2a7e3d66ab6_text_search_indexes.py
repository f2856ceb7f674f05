"""text search indexes: FTS5 trigram tables kept by triggers (SQLite), pg_trgm GIN indexes (PostgreSQL)

Revision ID: d2a7e3d66ab6
Revises: 246883079c77
Create Date: 2026-11-29 11:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd2a7e3d66ab6'
down_revision = '246883079c77'
branch_labels = None
depends_on = None


# table -> searched columns (as app.core.text_search.INDEXED when this revision was written)
INDEXED = {
    "ticket": ("number", "title", "description"),
    "customer": ("name", "phone"),
    "unit": ("number",),
}
# two padding characters after each value: every character of the text starts a trigram (app.core.text_search)
PADDED = "{row}.{column} || char(31, 31)"


def _values(row, columns):
    return ", ".join(PADDED.format(row=row, column=column) for column in columns)


def _sqlite(name, columns):
    listed = ", ".join(columns)
    insert = f"INSERT INTO {name}_fts(rowid, {listed}) VALUES (NEW.id, {_values('NEW', columns)});"
    # a contentless FTS5 table forgets a row when given the values it indexed
    delete = f"INSERT INTO {name}_fts({name}_fts, rowid, {listed}) VALUES ('delete', OLD.id, {_values('OLD', columns)});"
    return [
        f"CREATE VIRTUAL TABLE {name}_fts USING fts5({listed}, tokenize='trigram', content='', columnsize=0)",
        f"CREATE VIRTUAL TABLE {name}_fts_terms USING fts5vocab({name}_fts, instance)",
        f"CREATE TRIGGER {name}_fts_insert AFTER INSERT ON {name} BEGIN {insert} END",
        f"CREATE TRIGGER {name}_fts_delete AFTER DELETE ON {name} BEGIN {delete} END",
        f"CREATE TRIGGER {name}_fts_update AFTER UPDATE OF id, {listed} ON {name} BEGIN {delete} {insert} END",
        # the rows already there
        f"INSERT INTO {name}_fts(rowid, {listed}) SELECT id, {_values(name, columns)} FROM {name}",
        f"INSERT INTO {name}_fts({name}_fts) VALUES ('optimize')",
    ]


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name, columns in INDEXED.items():
            for statement in _sqlite(name, columns):
                op.execute(statement)
    elif dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, columns in INDEXED.items():
            for column in columns:
                op.execute(f"CREATE INDEX ix_{name}_{column}_trgm ON {name} USING gin ({column} gin_trgm_ops)")
    op.execute("ANALYZE")


def downgrade():
    dialect = op.get_bind().dialect.name
    for name, columns in INDEXED.items():
        if dialect == "sqlite":
            for trigger in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {name}_fts_{trigger}")
            op.execute(f"DROP TABLE IF EXISTS {name}_fts_terms")
            op.execute(f"DROP TABLE IF EXISTS {name}_fts")
        elif dialect == "postgresql":
            for column in columns:
                op.execute(f"DROP INDEX IF EXISTS ix_{name}_{column}_trgm")
