"""The schema comes from the migrations, and the migrations match the models exactly."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from app.extensions import db


def test_migrations_produce_exactly_the_models(ctx):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_every_model_has_its_table(ctx):
    tables = set(inspect(db.engine).get_table_names())
    for name in ["building", "unit", "customer", "customer_unit", "customer_tag", "tag", "department",
                 "staff_profile", "ticket", "ticket_event", "ticket_attachment", "communication",
                 "communication_ticket", "bill", "payment", "ab_user", "ab_role"]:
        assert name in tables


def test_sqlite_is_set_up_for_several_users(ctx):
    if db.engine.dialect.name != "sqlite":
        return
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
