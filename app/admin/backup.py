"""Backup and restore: a consistent snapshot of the database and the uploaded files in one archive.

SQLite is copied with its online backup API (a consistent copy while the app keeps running);
PostgreSQL with ``pg_dump`` (one transaction, so consistent too). Restore brings both back.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile

from sqlalchemy import inspect as sa_inspect, text
from sqlalchemy.engine import make_url

from app.core.clock import utcnow
from app.core.text_search import is_text_index

FORMAT = 1


class BackupError(Exception):
    pass


def _pg_env_and_url(engine):
    url = make_url(engine.url).set(drivername="postgresql")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    return env, url.set(password=None).render_as_string(hide_password=False)


def _row_counts(engine):
    with engine.connect() as connection:
        return {
            name: connection.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar()
            for name in sorted(sa_inspect(connection).get_table_names())
            if not is_text_index(name, "table")
        }  # an FTS table cannot be counted (the copy carries it whole)


def backup(engine, upload_folder, target_dir, now):
    """Write ``crm-backup-<time>.tar.gz`` into ``target_dir`` and return its path."""
    os.makedirs(target_dir, exist_ok=True)
    stamp = now.strftime("%Y%m%d-%H%M%S")
    path = os.path.join(target_dir, f"crm-backup-{stamp}.tar.gz")
    with tempfile.TemporaryDirectory(prefix="crm-backup-") as work:
        if engine.dialect.name == "sqlite":
            database = os.path.join(work, "database.sqlite")
            source = sqlite3.connect(engine.url.database)
            try:
                with sqlite3.connect(database) as copy:
                    source.backup(copy)  # SQLite's online backup: consistent while others write
                copy.close()
            finally:
                source.close()
        elif engine.dialect.name == "postgresql":
            database = os.path.join(work, "database.dump")
            env, url = _pg_env_and_url(engine)
            result = subprocess.run(
                ["pg_dump", "--format=custom", "--no-owner", "--file", database, url],
                env=env,
                capture_output=True,
                text=True,
            )
            if result.returncode:
                raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
        else:
            raise BackupError(f"no backup for {engine.dialect.name}")
        manifest = {
            "format": FORMAT,
            "created_at": now.isoformat(),
            "database": engine.dialect.name,
            "tables": _row_counts(engine),
        }
        with open(os.path.join(work, "manifest.json"), "w") as fh:
            json.dump(manifest, fh, ensure_ascii=False, indent=1)
        with tarfile.open(path, "w:gz") as archive:
            archive.add(os.path.join(work, "manifest.json"), "manifest.json")
            archive.add(database, os.path.basename(database))
            if os.path.isdir(upload_folder):
                archive.add(upload_folder, "uploads")
    return path


def _safe_members(archive):
    for member in archive.getmembers():
        name = member.name
        if name.startswith(("/", "..")) or "/../" in name or member.issym() or member.islnk():
            raise BackupError(f"unsafe path in the archive: {name}")
        yield member


def restore(engine, upload_folder, path):
    """Replace the database and the uploaded files with the archive's. Returns its manifest."""
    with tempfile.TemporaryDirectory(prefix="crm-restore-") as work:
        try:
            with tarfile.open(path, "r:gz") as archive:
                archive.extractall(work, members=list(_safe_members(archive)))
        except (tarfile.TarError, OSError) as error:
            raise BackupError(f"not a backup archive: {error}") from error
        try:
            with open(os.path.join(work, "manifest.json")) as fh:
                manifest = json.load(fh)
        except (OSError, ValueError) as error:
            raise BackupError("the archive has no manifest") from error
        if manifest.get("database") != engine.dialect.name:
            raise BackupError(f"this backup is of a {manifest.get('database')} database")
        engine.dispose()  # no pooled connection keeps the old data open
        if engine.dialect.name == "sqlite":
            snapshot = sqlite3.connect(os.path.join(work, "database.sqlite"))
            try:
                with sqlite3.connect(engine.url.database) as live:
                    snapshot.backup(live)  # the same online API, the other way round
                live.close()
            finally:
                snapshot.close()
        else:
            env, url = _pg_env_and_url(engine)
            result = subprocess.run(
                [
                    "pg_restore",
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--single-transaction",
                    "--dbname",
                    url,
                    os.path.join(work, "database.dump"),
                ],
                env=env,
                capture_output=True,
                text=True,
            )
            if result.returncode:
                raise BackupError(f"pg_restore failed: {result.stderr.strip()}")
        uploads = os.path.join(work, "uploads")
        if os.path.isdir(upload_folder):
            shutil.rmtree(upload_folder)
        if os.path.isdir(uploads):
            shutil.copytree(uploads, upload_folder)
        else:
            os.makedirs(upload_folder, exist_ok=True)
    return manifest


def default_backup_dir(instance_dir):
    return os.path.join(instance_dir, "backups")


def now_utc():
    return utcnow()
