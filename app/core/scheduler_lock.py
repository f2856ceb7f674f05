"""The scheduler lock: however many `flask crm scheduler` processes run, on however many hosts,
exactly one schedules jobs; the others wait and take over when it dies.

PostgreSQL: a session-level advisory lock (pg_try_advisory_lock) held on a connection of its
own, outside the pool. The server releases it when that connection ends: at once when the
holder's process dies, within about half a minute when its host vanishes (TCP keepalives set on
the session below). The holder checks its connection on every retry tick and stops scheduling
as soon as it is lost, since the lock went with it.

SQLite (one host by nature): an exclusive flock on a file beside the database, released by the
operating system when the process dies.
"""

import os
import socket

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

# pg_advisory_lock key: any fixed 64-bit number, the same in every process of an installation
LOCK_KEY = 0x43524D5343484544  # "CRMSCHED"


class PostgresLock:
    def __init__(self, url, key=LOCK_KEY):
        # keepalives: a host that vanishes is noticed by the server (and by us) within ~30 s
        self.engine = create_engine(
            url,
            poolclass=NullPool,
            connect_args={
                "keepalives": 1,
                "keepalives_idle": 10,
                "keepalives_interval": 5,
                "keepalives_count": 3,
                "tcp_user_timeout": 30000,
                "application_name": "crm-scheduler",
            },
        )
        self.key = key
        self.connection = None

    def try_acquire(self):
        try:
            if self.connection is None:
                self.connection = self.engine.connect()
                for setting in (
                    "tcp_keepalives_idle = 10",
                    "tcp_keepalives_interval = 5",
                    "tcp_keepalives_count = 3",
                    "idle_session_timeout = 0",
                    "idle_in_transaction_session_timeout = 0",
                ):
                    self.connection.execute(text(f"SET {setting}"))
            got = self.connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar()
            self.connection.commit()  # no transaction left open on the lock's connection
            return bool(got)
        except Exception:  # noqa: BLE001 — the database is unreachable: wait and try again
            self.release()
            return False

    def still_held(self):
        """True while the lock's connection is alive (a session lock lives exactly as long)."""
        try:
            self.connection.execute(text("SELECT 1")).scalar()
            self.connection.commit()
            return True
        except Exception:  # noqa: BLE001 — any failure means the session, and the lock, may be gone
            self.release()
            return False

    def release(self):
        if self.connection is not None:
            try:
                self.connection.close()  # ends the session, which releases the lock
            except Exception:  # noqa: BLE001
                pass
            self.connection = None


class FileLock:
    def __init__(self, path):
        self.path = path
        self.handle = None

    def try_acquire(self):
        import fcntl

        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{socket.gethostname()} {os.getpid()}\n")
        handle.flush()
        self.handle = handle
        return True

    def still_held(self):
        return self.handle is not None

    def release(self):
        if self.handle is not None:
            self.handle.close()  # closing the file drops the flock
            self.handle = None


def scheduler_lock(engine, instance_dir):
    """The lock for this installation's database."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return PostgresLock(url.render_as_string(hide_password=False))
    database = url.database if url.get_backend_name() == "sqlite" else None
    if database and database != ":memory:":
        return FileLock(os.path.abspath(database) + ".scheduler-lock")
    os.makedirs(instance_dir, exist_ok=True)
    return FileLock(os.path.join(instance_dir, "scheduler-lock"))


def holder_name():
    return f"{socket.gethostname()}:{os.getpid()}"
