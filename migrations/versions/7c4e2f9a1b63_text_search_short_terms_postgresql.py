"""text search: 1–2 character terms through an index on PostgreSQL (GIN over each value's characters and character pairs)

pg_trgm cannot answer a term shorter than a trigram: ``ILIKE '%漏水%'`` read every row. Each searched
column gets a GIN index over ``crm_short_grams(column)``: the distinct single characters and pairs of
adjacent characters of the lower-cased value. A value contains a 1–2 character term exactly when its
grams hold the lower-cased term, so ``crm_short_grams(title) @> ARRAY['漏水']`` is the same answer as
``title ILIKE '%漏水%'``, from the index (app.core.text_search). SQLite answers these terms from its
FTS5 word lists (revision 5b1e0c7d2a94).

The function is costed high so the planner never evaluates it row by row to walk another index: it is
only worth using through its index.

Revision ID: 7c4e2f9a1b63
Revises: 5b1e0c7d2a94
Create Date: 2026-11-30 00:55:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '7c4e2f9a1b63'
down_revision = '5b1e0c7d2a94'
branch_labels = None
depends_on = None


# the searched columns of revision d2a7e3d66ab6
INDEXED = {
    "ticket": ("number", "title", "description"),
    "customer": ("name", "phone"),
    "unit": ("number",),
}

FUNCTION = """
CREATE OR REPLACE FUNCTION crm_short_grams(value text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE COST 10000 AS $$
DECLARE
  lowered text := lower(value);
  size int := char_length(lowered);
  grams text[] := '{}';
BEGIN
  FOR i IN 1..size LOOP
    grams := grams || substr(lowered, i, 1);
    IF i < size THEN
      grams := grams || substr(lowered, i, 2);
    END IF;
  END LOOP;
  RETURN grams;  -- repeated grams are one key of the GIN index
END
$$
"""


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    for name, columns in INDEXED.items():
        for column in columns:
            op.execute(f"CREATE INDEX ix_{name}_{column}_grams ON {name} USING gin (crm_short_grams({column}))")
        op.execute(f"ANALYZE {name}")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, columns in INDEXED.items():
        for column in columns:
            op.execute(f"DROP INDEX IF EXISTS ix_{name}_{column}_grams")
    op.execute("DROP FUNCTION IF EXISTS crm_short_grams(text)")
