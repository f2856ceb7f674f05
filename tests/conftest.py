"""Test fixtures: one app per session on a migrated database, clean CRM tables per test.

The database is SQLite in a temporary folder, or the PostgreSQL server named by
TEST_DATABASE_URL (CI runs the suite on both).
"""
import os
import tempfile

import pytest
from flask import g, has_app_context
from flask.testing import FlaskClient
from jinja2 import StrictUndefined
from sqlalchemy import event, text

_tmp = tempfile.mkdtemp(prefix="crm-test-")
os.environ.setdefault("CRM_INSTANCE_DIR", _tmp)
DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or "sqlite:///" + os.path.join(_tmp, "test.sqlite")
os.environ["DATABASE_URL"] = DATABASE_URL

PASSWORD = "Test-password-2026"
ROLE_USERS = {
    "Admin": "admin",
    "Manager": "manager",
    "Supervisor": "supervisor",
    "Service": "service",
    "Technician": "tech",
}


class IsolatedClient(FlaskClient):
    """A test client whose requests never see another user's login cached in ``g``.

    Tests that hold an app context (for factories) would otherwise share ``g`` across
    requests, which never happens in a real server.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            for key in ("_login_user", "user", "_crm_permissions", "_crm_field_levels", "_flask_babel",
                        "_crm_scope", "crm_choice_labels"):
                g.pop(key, None)
        return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app():
    from app import create_app
    from app.cli import setup_database

    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": DATABASE_URL,
        "WTF_CSRF_ENABLED": False,
        "UPLOAD_FOLDER": os.path.join(_tmp, "uploads"),
    })
    app.jinja_env.undefined = StrictUndefined
    app.test_client_class = IsolatedClient
    with app.app_context():
        from app.extensions import db

        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        setup_database()
        sm = app.appbuilder.sm
        for role, username in ROLE_USERS.items():
            sm.add_user(username, username, "测试", f"{username}@example.com", sm.find_role(role), PASSWORD)
        db.session.commit()
    yield app


def _crm_tables():
    from app.extensions import db

    return [t for t in reversed(db.metadata.sorted_tables) if not t.name.startswith("ab_")]


@pytest.fixture(autouse=True)
def clean_tables(app):
    yield
    from app.extensions import db

    with app.app_context():
        db.session.rollback()
        with db.engine.begin() as conn:
            for table in _crm_tables():
                for fk in table.foreign_keys:  # rows pointing at rows of their own table go first
                    if fk.column.table is table:
                        conn.execute(table.delete().where(fk.parent.isnot(None)))
                conn.execute(table.delete())


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


@pytest.fixture
def session(ctx):
    from app.extensions import db

    yield db.session
    db.session.rollback()


def _login(app, username):
    client = app.test_client()
    response = client.post("/login/", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, f"login of {username} failed"
    return client


@pytest.fixture
def login(app):
    return lambda role: _login(app, ROLE_USERS[role])


@pytest.fixture
def admin_client(login):
    return login("Admin")


@pytest.fixture
def user_id(app):
    def find(role):
        if has_app_context():  # a second context would open a second session (and transaction)
            return app.appbuilder.sm.find_user(username=ROLE_USERS[role]).id
        with app.app_context():
            return app.appbuilder.sm.find_user(username=ROLE_USERS[role]).id

    return find


class QueryCounter:
    def __init__(self, engine):
        self.engine = engine
        self.statements = []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, parameters, context, executemany):
        # transaction control (SQLite's BEGIN IMMEDIATE is emitted as a statement) is not a query
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            self.statements.append(statement)

    @property
    def count(self):
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    from app.extensions import db

    with app.app_context():
        engine = db.engine
    return lambda: QueryCounter(engine)
