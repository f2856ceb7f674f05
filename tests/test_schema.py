"""The schema comes from the migrations, and the migrations match the models exactly."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event, inspect, text

from app.extensions import db
from app.core.text_search import is_text_index
from tests import factories


def test_migrations_produce_exactly_the_models(ctx):
    with db.engine.connect() as conn:
        # the text search's FTS tables and trigram indexes belong to no model (as in migrations/env.py)
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_object": lambda obj, name, kind, reflected, _other: (
                    not (reflected and is_text_index(name, kind))
                ),
            },
        )
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_every_model_has_its_table(ctx):
    tables = set(inspect(db.engine).get_table_names())
    for name in [
        "building",
        "unit",
        "customer",
        "customer_unit",
        "customer_tag",
        "tag",
        "department",
        "staff_profile",
        "ticket",
        "ticket_event",
        "ticket_attachment",
        "communication",
        "communication_ticket",
        "bill",
        "payment",
        "ab_user",
        "ab_role",
    ]:
        assert name in tables


def test_sqlite_is_set_up_for_several_users(ctx):
    if db.engine.dialect.name != "sqlite":
        return
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 1000


def test_migrations_upgrade_a_database_that_holds_data(tmp_path):
    """Schema changes that rebuild tables (SQLite batch mode) keep every row and reference."""
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    url = f"sqlite:///{tmp_path}/upgrade.sqlite"
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="x", CRM_INSTANCE_DIR=str(tmp_path), FLASK_APP="app")

    def flask(*args):
        result = subprocess.run(
            [sys.executable, "-m", "flask", *args], cwd=root, env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result

    flask("db", "upgrade", "17459d83ff0c")  # the schema before the ticket lifecycle columns
    import sqlite3

    conn = sqlite3.connect(f"{tmp_path}/upgrade.sqlite")
    conn.executescript("""
        INSERT INTO ticket (id, number, title, type, priority, status, channel, created_at, updated_at)
        VALUES (1, 'WO202611010001', '旧工单', 'repair', 'high', 'new', 'phone', '2026-11-01 00:00:00', '2026-11-01 00:00:00');
        INSERT INTO ticket_event (ticket_id, at, kind, to_status) VALUES (1, '2026-11-01 00:00:00', 'created', 'new');
    """)
    conn.commit()
    conn.close()
    flask("db", "upgrade")
    conn = sqlite3.connect(f"{tmp_path}/upgrade.sqlite")
    assert conn.execute("SELECT number, escalation_level FROM ticket").fetchall() == [("WO202611010001", 0)]
    assert conn.execute("SELECT count(*) FROM ticket_event WHERE ticket_id = 1").fetchone() == (1,)
    conn.close()


def test_a_page_read_takes_no_write_lock_and_a_write_takes_it_first(app, login):
    """GET pages begin deferred (readers never queue behind a writer), from the very first statement
    of the request (who the user is); a form post begins immediate (it waits for the lock, not fails)."""
    with app.app_context():
        engine = db.engine
        record_id = factories.customer(name="林晓", phone="13911112222").id
        db.session.commit()
    if engine.dialect.name != "sqlite":
        return
    client = login("Service")
    begins = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("BEGIN"):
            begins.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(f"/customerview/show/{record_id}").status_code == 200
        assert client.get("/customerview/list/").status_code == 200
        reads = list(begins)
        begins.clear()
        client.post(f"/customerview/edit/{record_id}", data={"name": "林晓", "phone": "13911112222"})
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert reads and set(reads) == {"BEGIN"}
    assert begins and begins[0] == "BEGIN IMMEDIATE"
