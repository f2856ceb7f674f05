"""Excel export of list views: what the list shows, as a real .xlsx, with flat memory.

Rules:
- XlsxWriter's constant_memory mode writes row by row to a temporary file (it is silently
  ignored with in_memory, and an .xlsx is a zip, so it cannot be streamed while built);
- strings are never turned into formulas or links: text that starts with = + - @ tab or CR is
  written as a text cell, so a customer named =HYPERLINK(...) stays a name;
- headers are the localized labels, frozen, with an auto-filter; dates and money are formatted.
"""

import datetime
import os
import tempfile
from decimal import Decimal

from app.core.workbooks import new_workbook
from app.models import ExportLog
from app.policy.audit import record_event
from app.models import ExportJob
from app.web.listing import ListArgs
from app.policy.principal import acting_as, principal_for
from app.models import Notification


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
MAX_WIDTH = 50


def _display_width(text):
    # CJK characters take two columns in Excel's default font
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def write_xlsx(columns, labels, rows, sheet_name="Sheet1", zone=None):
    """Write ``rows`` (iterables of cell values, in ``columns`` order) to a temporary .xlsx.

    Returns (path, row count). The caller sends and then deletes the file.
    """
    handle, path = tempfile.mkstemp(prefix="crm-export-", suffix=".xlsx")
    os.close(handle)
    workbook, formats = new_workbook(path, constant_memory=True)
    try:
        sheet = workbook.add_worksheet(sheet_name[:31])
        header, date_format = formats["header"], formats["date"]
        datetime_format, money_format = formats["datetime"], formats["money"]
        widths = [min(max(_display_width(str(label)) + 2, 8), MAX_WIDTH) for label in labels]
        for col, label in enumerate(labels):
            sheet.write_string(0, col, str(label), header)
        count = 0
        for count, row in enumerate(rows, start=1):
            for col, value in enumerate(row):
                if value is None or value == "":
                    continue
                if isinstance(value, bool):
                    sheet.write_boolean(count, col, value)
                elif isinstance(value, datetime.datetime):
                    if value.tzinfo is not None:
                        value = value.astimezone(zone) if zone else value
                        value = value.replace(tzinfo=None)
                    sheet.write_datetime(count, col, value, datetime_format)
                elif isinstance(value, datetime.date):
                    sheet.write_datetime(count, col, datetime.datetime.combine(value, datetime.time()), date_format)
                elif isinstance(value, Decimal):
                    sheet.write_number(count, col, float(value), money_format)
                elif isinstance(value, (int, float)):
                    sheet.write_number(count, col, value)
                else:
                    text = str(value)
                    sheet.write_string(count, col, text)
                    if count <= 200:  # size columns from the first rows; later rows rarely differ
                        widths[col] = min(max(widths[col], _display_width(text) + 2), MAX_WIDTH)
        for col, width in enumerate(widths):
            sheet.set_column(col, col, width)
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, max(count, 1), max(len(columns) - 1, 0))
    finally:
        workbook.close()
    return path, count


def record_export(session, actor_id, resource, query, rows, now):
    """Every export is logged: who, when, which list, which filters, how many rows."""

    session.add(ExportLog(at=now, user_id=actor_id, resource=resource, query=query[:2000], rows=rows))
    record_event(
        session,
        "export",
        resource,
        0,
        f"{rows} rows",
        actor_id=actor_id,
        details={"query": query[:2000], "rows": rows},
        commit=False,
    )
    session.commit()


def queue_export(session, user_id, view, title, query, now):
    """Hand an export too large for a request to the scheduler (run_export_jobs)."""

    job = ExportJob(user_id=user_id, view=view, title=title[:100], query=query[:4000], status="queued", created_at=now)
    session.add(job)
    session.commit()
    return job


def run_export_jobs(app, session, now, folder, keep_days=7):
    """Build queued exports as their owners would see them (field permissions, columns, filters),
    keep each file under a random name, and tell the owner in their inbox. Returns how many ran."""
    import os
    import secrets
    import shutil

    from flask_appbuilder.security.sqla.models import User
    from flask_babel import gettext

    from sqlalchemy import select, update

    done = 0
    for job_id in (
        session.execute(select(ExportJob.id).where(ExportJob.status == "queued").order_by(ExportJob.id)).scalars().all()
    ):
        claimed = session.execute(
            update(ExportJob)
            .where(ExportJob.id == job_id, ExportJob.status == "queued")
            .values(status="running")
            .execution_options(synchronize_session=False)
        ).rowcount
        session.commit()
        if claimed != 1:
            continue  # another scheduler took it
        job = session.get(ExportJob, job_id)
        view = next((v for v in app.appbuilder.baseviews if type(v).__name__ == job.view), None)
        try:
            if view is None:
                raise LookupError(f"no list page {job.view}")
            # built as its owner would see it: their scope and field levels, the list as they asked for it
            with acting_as(principal_for(session, session.get(User, job.user_id))):
                path, count, title = view.export_file(ListArgs.of_query(job.query))
            message = gettext("Your export is ready: %(title)s (%(rows)s rows)", title=title, rows=count)
            os.makedirs(folder, exist_ok=True)
            job.file_name = f"{secrets.token_hex(16)}.xlsx"
            shutil.move(path, os.path.join(folder, job.file_name))
            job.status, job.rows, job.finished_at = "done", count, now
            session.add(
                Notification(user_id=job.user_id, title=message[:200], link=f"/exports/{job.id}", created_at=now)
            )
            record_export(session, job.user_id, view.class_permission_name, job.query, count, now)
            done += 1
        except Exception as error:  # noqa: BLE001 — recorded on the job for the owner and admins
            session.rollback()
            job = session.get(ExportJob, job_id)
            job.status, job.error, job.finished_at = "failed", str(error)[:2000], now
        session.commit()
    _remove_old_files(session, folder, now, keep_days)
    return done


def _remove_old_files(session, folder, now, keep_days):
    import os

    from sqlalchemy import select

    old = (
        session.execute(
            select(ExportJob).where(
                ExportJob.status == "done", ExportJob.finished_at < now - datetime.timedelta(days=keep_days)
            )
        )
        .scalars()
        .all()
    )
    for job in old:
        if job.file_name and os.path.exists(os.path.join(folder, job.file_name)):
            os.remove(os.path.join(folder, job.file_name))
        job.status = "failed"
        job.error = "expired"
    session.commit()
