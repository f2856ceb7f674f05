"""Test fixtures: one app per session on a migrated database, clean CRM tables per test.

The database is SQLite in a temporary folder, or the PostgreSQL server named by
TEST_DATABASE_URL (CI runs the suite on both).

Time: the whole run starts at a fixed moment (``--clock``, default 2026-11-23 10:00 in Shanghai) and
ticks on from there, so no test depends on the day it runs; CI runs the suite a second time with the
clock years ahead. Tests take dates from the ``now``/``today`` fixtures, never from a calendar.
"""

import datetime
import os
import tempfile
import zoneinfo

import pytest
import time_machine
from flask import g, has_app_context
from flask.testing import FlaskClient
from jinja2 import StrictUndefined
from sqlalchemy import event, text
from werkzeug.security import generate_password_hash

TEST_PASSWORD_HASH = "pbkdf2:sha256:1000"
_tmp = tempfile.mkdtemp(prefix="crm-test-")
os.environ.setdefault("CRM_INSTANCE_DIR", _tmp)


def _worker_database(url):
    """Under pytest-xdist each worker gets a database of its own on the same server (SQLite: its own
    temporary folder already), created here when missing."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    server = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


DATABASE_URL = _worker_database(os.environ.get("TEST_DATABASE_URL")) or "sqlite:///" + os.path.join(_tmp, "test.sqlite")
os.environ["DATABASE_URL"] = DATABASE_URL

PASSWORD = "Test-password-2026"
ROLE_USERS = {
    "Admin": "admin",
    "Manager": "manager",
    "Supervisor": "supervisor",
    "Service": "service",
    "Technician": "tech",
}


DEFAULT_CLOCK = "2026-11-23T10:00:00+08:00"
_clock = None


def pytest_addoption(parser):
    parser.addoption(
        "--clock",
        default=os.environ.get("CRM_TEST_CLOCK", DEFAULT_CLOCK),
        help="the moment the test run starts at (ISO 8601 with offset); time ticks on from it",
    )


def pytest_configure(config):
    """Move the clock before the app, its users and their passwords are created."""
    global _clock
    start = datetime.datetime.fromisoformat(config.getoption("--clock"))
    if start.tzinfo is None:
        raise pytest.UsageError("--clock needs a UTC offset, e.g. 2031-06-30T23:30:00+08:00")
    _clock = time_machine.travel(start, tick=True)
    _clock.start()


def pytest_unconfigure(config):
    if _clock is not None:
        _clock.stop()


@pytest.fixture
def now():
    """The moment the test started, timezone-aware UTC."""
    from app.core.clock import utcnow

    return utcnow()


@pytest.fixture
def today(app, now):
    """The test's local date in the firm's zone."""
    return now.astimezone(zoneinfo.ZoneInfo(app.config["TIMEZONE"])).date()


class IsolatedClient(FlaskClient):
    """A test client whose requests never see another user's login cached in ``g``.

    Tests that hold an app context (for factories) would otherwise share ``g`` across
    requests, which never happens in a real server.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            for key in (
                "_login_user",
                "user",
                "_crm_permissions",
                "_crm_field_levels",
                "_flask_babel",
                "_crm_principal",
                "_crm_anonymous",
                "crm_choice_labels",
                "crm_resident_principal",
            ):
                g.pop(key, None)
        return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app():
    from app import create_app
    from app.cli import setup_database

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": DATABASE_URL,
            "WTF_CSRF_ENABLED": False,
            "UPLOAD_FOLDER": os.path.join(_tmp, "uploads"),
            # the suite signs in hundreds of times: a cheap hash there, scrypt (FAB's default) in the product
            "FAB_PASSWORD_HASH_METHOD": TEST_PASSWORD_HASH,
            "AUTH_DB_FAKE_PASSWORD_HASH_CHECK": generate_password_hash("password", method=TEST_PASSWORD_HASH),
        }
    )
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
        # every test starts like a freshly initialised install: the built-in settings and service levels
        from app.core.clock import utcnow
        from app.admin.settings import seed_defaults

        seed_defaults(db.session, utcnow())


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
def resident_login(app):
    """A client signed in to the resident portal as a customer (the sign-in itself has tests of its own)."""

    def sign_in(customer_id):
        from app.core.clock import timestamp
        from app.portal.session import SESSION_KEY

        client = app.test_client()
        with client.session_transaction() as cookie:
            cookie[SESSION_KEY] = {"customer": customer_id, "at": timestamp(), "seen": timestamp(), "how": "test"}
        return client

    return sign_in


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


@pytest.fixture
def two_departments(ctx, user_id):
    """The technician and the supervisor in 工程一部: the technician's ticket, the department's unassigned
    pool, a colleague's ticket, and another department's: (mine, pool, colleague, other)."""
    from app.extensions import db
    from app.models import StaffProfile
    from tests import factories

    ours, theirs = factories.department(name="工程一部"), factories.department(name="工程二部")
    db.session.add_all(
        [
            StaffProfile(user_id=user_id("Technician"), department_id=ours.id, max_open_tickets=0),
            StaffProfile(user_id=user_id("Supervisor"), department_id=ours.id, max_open_tickets=0),
        ]
    )
    db.session.commit()
    mine = factories.ticket(title="我的工单", department=ours, assignee_id=user_id("Technician"), status="assigned")
    pool = factories.ticket(title="本部门待派", department=ours)
    colleague = factories.ticket(title="同事的工单", department=ours, assignee_id=user_id("Service"), status="assigned")
    other = factories.ticket(title="外部门工单", department=theirs)
    return mine, pool, colleague, other
