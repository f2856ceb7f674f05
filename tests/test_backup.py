"""Backup and restore: a snapshot taken while the app runs brings back data and uploaded files."""

import os

import pytest
from sqlalchemy import select

from app.admin.backup import BackupError, backup, restore
from app.cli import backup_command, restore_command
from app.extensions import db
from app.models import Customer
from app.core.column_types import utcnow
from tests import factories


def test_backup_change_restore_compare(app, ctx, tmp_path):
    customer = factories.customer(name="备份前")
    os.makedirs(app.config["UPLOAD_FOLDER"], exist_ok=True)
    upload = os.path.join(app.config["UPLOAD_FOLDER"], "a" * 32 + "_sep_合同.pdf")
    with open(upload, "wb") as fh:
        fh.write(b"%PDF-1.7 original")
    path = backup(db.engine, app.config["UPLOAD_FOLDER"], str(tmp_path), utcnow())
    before = sorted(db.session.execute(select(Customer.id, Customer.name)).all())

    customer.name = "备份后改名"
    factories.customer(name="备份后新增")
    with open(upload, "wb") as fh:
        fh.write(b"%PDF-1.7 changed")
    db.session.commit()
    db.session.remove()

    manifest = restore(db.engine, app.config["UPLOAD_FOLDER"], path)
    assert manifest["database"] == db.engine.dialect.name and manifest["tables"]["customer"] == len(before)
    assert sorted(db.session.execute(select(Customer.id, Customer.name)).all()) == before
    with open(upload, "rb") as fh:
        assert fh.read() == b"%PDF-1.7 original"


def test_the_commands_and_a_bad_archive(app, ctx, tmp_path):
    factories.customer(name="命令备份")
    runner = app.test_cli_runner()
    result = runner.invoke(backup_command, ["--to", str(tmp_path)])
    assert result.exit_code == 0, result.output
    archive = result.output.split(": ", 1)[1].strip()
    db.session.remove()
    result = runner.invoke(restore_command, [archive, "--yes"])
    assert result.exit_code == 0 and "Restored" in result.output
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"not an archive")
    with pytest.raises(BackupError):
        restore(db.engine, app.config["UPLOAD_FOLDER"], str(bogus))
    assert db.session.query(Customer).filter_by(name="命令备份").count() == 1  # nothing was touched
