"""Engine set-up per backend: SQLite made fit for several users at once.

SQLite: foreign keys on, WAL, a busy timeout, and write transactions that take the write
lock when they begin (BEGIN IMMEDIATE). A deferred transaction that reads first and writes
later cannot wait for the lock and fails with "database is locked"; an immediate one waits
for the busy timeout. Read-only requests (GET) begin deferred so readers never queue.
SQLAlchemy's documented pysqlite recipe: the driver's own BEGIN is switched off and the
"begin" event emits ours.

PostgreSQL: no JIT compilation. A page's statements run in milliseconds, and the planner's estimate
for the text search's costed index function (migration 7c4e2f9a1b63) would have it spend 30–250 ms
compiling them.
"""

import contextvars

from sqlalchemy import event

_read_only = contextvars.ContextVar("crm_read_only_transaction", default=False)


def set_read_only(value):
    """Mark the current context's transactions as read-only (deferred BEGIN on SQLite)."""
    return _read_only.set(bool(value))


def configure_engine(engine, busy_timeout_ms):
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _no_jit(dbapi_connection, connection_record):
            autocommit = dbapi_connection.autocommit
            dbapi_connection.autocommit = True  # a session setting, outside any transaction
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET jit = off")
            dbapi_connection.autocommit = autocommit

    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN" if _read_only.get() else "BEGIN IMMEDIATE")
