"""text search: the list of indexed trigrams per table (SQLite), so a 1–2 character search matches through the index

Revision ID: 5b1e0c7d2a94
Revises: 8ffbfed77b2b
Create Date: 2026-11-29 21:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5b1e0c7d2a94'
down_revision = '8ffbfed77b2b'
branch_labels = None
depends_on = None


# the FTS tables of revision d2a7e3d66ab6
TABLES = ("ticket", "customer", "unit")


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in TABLES:
        # one row per distinct trigram (a view of the index: it stores nothing); it replaces the list
        # of every occurrence, which short searches read before
        op.execute(f"CREATE VIRTUAL TABLE {name}_fts_words USING fts5vocab({name}_fts, row)")
        op.execute(f"DROP TABLE {name}_fts_terms")


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in TABLES:
        op.execute(f"CREATE VIRTUAL TABLE {name}_fts_terms USING fts5vocab({name}_fts, instance)")
        op.execute(f"DROP TABLE IF EXISTS {name}_fts_words")
