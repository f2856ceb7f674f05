"""The documented commands on a fresh database: init (twice) and demo data."""

import os
import sqlite3
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _flask(tmp_path, *args):
    env = dict(
        os.environ,
        CRM_INSTANCE_DIR=str(tmp_path),
        SECRET_KEY="cli-test",
        FLASK_APP="app",
        DATABASE_URL=f"sqlite:///{tmp_path}/cli.sqlite",
        CRM_ADMIN_PASSWORD="Cli-admin-2026",
    )
    return subprocess.run(
        [sys.executable, "-m", "flask", "crm", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_init_is_idempotent_and_demo_loads_once(tmp_path):
    first = _flask(tmp_path, "init")
    assert first.returncode == 0, first.stderr
    assert "created" in first.stdout
    # a fresh database: the admin role exists before FAB gives it every permission (no error per page)
    assert "ERROR" not in first.stderr and "Traceback" not in first.stderr, first.stderr[:2000]
    again = _flask(tmp_path, "init")
    assert again.returncode == 0 and "already exists" in again.stdout
    demo = _flask(tmp_path, "demo", "--customers", "40", "--if-empty", "--staff-password", "Staff-pass-2026")
    assert demo.returncode == 0, demo.stderr
    assert "customers 40" in demo.stdout
    skipped = _flask(tmp_path, "demo", "--if-empty")
    assert "skipped" in skipped.stdout


def test_init_without_admin_password_explains_itself(tmp_path):
    env_password = os.environ.pop("CRM_ADMIN_PASSWORD", None)
    try:
        env = dict(
            os.environ,
            CRM_INSTANCE_DIR=str(tmp_path),
            SECRET_KEY="cli-test",
            FLASK_APP="app",
            DATABASE_URL=f"sqlite:///{tmp_path}/cli.sqlite",
        )
        env.pop("CRM_ADMIN_PASSWORD", None)
        result = subprocess.run(
            [sys.executable, "-m", "flask", "crm", "init"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        if env_password is not None:
            os.environ["CRM_ADMIN_PASSWORD"] = env_password
    assert result.returncode != 0
    assert "CRM_ADMIN_PASSWORD" in result.stderr
    # refused before anything is written: no schema half set up without its admin
    with sqlite3.connect(tmp_path / "cli.sqlite") as connection:
        assert connection.execute("SELECT name FROM sqlite_master").fetchall() == []
