"""arrears summary per building and due date, kept by triggers

Revision ID: 2eab9ebc9d4b
Revises: f1888011bdb6
Create Date: 2026-11-23 19:46:27.518562

"""
from alembic import op
import sqlalchemy as sa

import app.core.column_types
import flask_appbuilder.models.mixins


# revision identifiers, used by Alembic.
revision = '2eab9ebc9d4b'
down_revision = 'f1888011bdb6'
branch_labels = None
depends_on = None


OUTSTANDING = "('unpaid', 'partial')"


def _sqlite_delta(row, sign):
    # one bill's outstanding amount added to (or taken from) its building's row for its due date
    return f"""
    INSERT INTO arrears_summary (building_id, due_date, outstanding)
    SELECT unit.building_id, {row}.due_date,
           {sign}({row}.amount - {row}.paid_amount - {row}.written_off_amount)
    FROM unit WHERE unit.id = {row}.unit_id AND {row}.status IN {OUTSTANDING}
    ON CONFLICT (building_id, due_date) DO UPDATE SET outstanding = outstanding + excluded.outstanding;"""


# the whole building's rows again, from its bills (a unit moved to another building)
RECOUNT = """
    DELETE FROM arrears_summary WHERE building_id IN ({buildings});
    INSERT INTO arrears_summary (building_id, due_date, outstanding)
    SELECT unit.building_id, bill.due_date, SUM(bill.amount - bill.paid_amount - bill.written_off_amount)
    FROM bill JOIN unit ON unit.id = bill.unit_id
    WHERE bill.status IN ('unpaid', 'partial') AND unit.building_id IN ({buildings})
    GROUP BY unit.building_id, bill.due_date;"""

SQLITE = [
    "CREATE TRIGGER bill_arrears_insert AFTER INSERT ON bill BEGIN" + _sqlite_delta("NEW", "+") + " END",
    "CREATE TRIGGER bill_arrears_delete AFTER DELETE ON bill BEGIN" + _sqlite_delta("OLD", "-") + " END",
    "CREATE TRIGGER bill_arrears_update AFTER UPDATE OF amount, paid_amount, written_off_amount, status, due_date, "
    "unit_id ON bill BEGIN" + _sqlite_delta("OLD", "-") + _sqlite_delta("NEW", "+") + " END",
    "CREATE TRIGGER unit_arrears_move AFTER UPDATE OF building_id ON unit WHEN OLD.building_id <> NEW.building_id "
    "BEGIN" + RECOUNT.format(buildings="OLD.building_id, NEW.building_id") + " END",
]

POSTGRESQL = [
    f"""CREATE FUNCTION bill_arrears() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status IN {OUTSTANDING} THEN
        INSERT INTO arrears_summary (building_id, due_date, outstanding)
        SELECT unit.building_id, OLD.due_date, -(OLD.amount - OLD.paid_amount - OLD.written_off_amount)
        FROM unit WHERE unit.id = OLD.unit_id
        ON CONFLICT (building_id, due_date) DO UPDATE
        SET outstanding = arrears_summary.outstanding + EXCLUDED.outstanding;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status IN {OUTSTANDING} THEN
        INSERT INTO arrears_summary (building_id, due_date, outstanding)
        SELECT unit.building_id, NEW.due_date, NEW.amount - NEW.paid_amount - NEW.written_off_amount
        FROM unit WHERE unit.id = NEW.unit_id
        ON CONFLICT (building_id, due_date) DO UPDATE
        SET outstanding = arrears_summary.outstanding + EXCLUDED.outstanding;
    END IF;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER bill_arrears AFTER INSERT OR DELETE OR UPDATE OF amount, paid_amount, written_off_amount, "
    "status, due_date, unit_id ON bill FOR EACH ROW EXECUTE FUNCTION bill_arrears()",
    f"""CREATE FUNCTION unit_arrears_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {RECOUNT.format(buildings="OLD.building_id, NEW.building_id")}
    RETURN NULL;
END $$""",
    "CREATE TRIGGER unit_arrears_move AFTER UPDATE OF building_id ON unit FOR EACH ROW "
    "WHEN (OLD.building_id IS DISTINCT FROM NEW.building_id) EXECUTE FUNCTION unit_arrears_move()",
]


def upgrade():
    op.create_table('arrears_summary',
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('outstanding', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], name='fk_arrears_summary_building', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('building_id', 'due_date')
    )
    # what the bills already owe, then triggers keep it
    op.execute(RECOUNT.split(";", 1)[1].format(buildings="SELECT id FROM building"))
    for statement in POSTGRESQL if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER unit_arrears_move ON unit")
        op.execute("DROP TRIGGER bill_arrears ON bill")
        op.execute("DROP FUNCTION unit_arrears_move()")
        op.execute("DROP FUNCTION bill_arrears()")
    else:
        for name in ("unit_arrears_move", "bill_arrears_update", "bill_arrears_delete", "bill_arrears_insert"):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table('arrears_summary')
