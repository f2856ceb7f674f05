"""APScheduler job definitions: each job is thin and calls one domain function.

Jobs are registered by register_jobs(scheduler, app) in the one scheduler process
(`flask crm scheduler`); web workers never start a scheduler. Missed runs coalesce into one,
and a run may start minutes late (APScheduler's own default grace time is one second).
Every job is idempotent by construction, so a catch-up run or a second scheduler does no harm.

Only one scheduler process schedules at a time (app.core.scheduler_lock's lock), and each scheduled run is
claimed in job_run under a unique (job, slot) key before it starts (run_claimed), so a run happens
once even if two schedulers were ever active together. Interval jobs fire on a fixed phase
(ANCHOR), so every scheduler computes the same slots.
"""

import datetime
import functools

from sqlalchemy.exc import IntegrityError

from app.admin import imports
from app.admin.tasks import run_pending
from app.billing import bills
from app.billing.bills import generate_bills, send_payment_reminders
from app.care import surveys
from app.care.contracts import daily
from app.care.greetings import send_greetings
from app.care.renovation import send_reminders
from app.core.clock import local_zone, to_local
from app.core.column_types import utcnow
from app.extensions import db
from app.core.text_search import refresh_statistics
from app.facilities.maintenance import generate_work_orders
from app.models import JobRun
from app.notices.broadcasts import queue_due_broadcasts
from app.notices.channels import senders_from_config
from app.notices.notify import deliver_outbox
from app.policy.accounts import deliver_account_mail
from app.policy.audit import record_event
from app.tickets.ratings import close_resolved
from app.tickets.return_visits import create_visits
from app.tickets.sla import escalate_overdue
from app.web.exports import run_export_jobs

# the modules whose background-task kinds the worker runs (each registers its own, app.admin.tasks.register)
TASK_KIND_MODULES = (bills, imports, surveys)

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
ANCHOR = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
DAY_SECONDS = 24 * 3600


def logged(job):
    """Each run of a job that did something is written to the change history with what it returned."""

    @functools.wraps(job)
    def run(app, *args):
        result = job(app, *args)
        idle = not result or (isinstance(result, dict) and not any(result.values()))
        if idle:  # a run that found nothing to do is not worth a line every 30 seconds
            return result
        with app.app_context():
            summary = getattr(result, "period", None) and f"{result.period}: {result.created}" or str(result)
            record_event(db.session, "job", job.__name__, 0, summary[:200])
        return result

    return run


def job(body=None, log=True):
    """A scheduled job: ``body(session, now, app, *args)`` runs in an app context, on the app's
    session as the system (no actor), at one ``now``; its runs that did something are logged.
    Called as ``job(app, *args)`` by the scheduler, run_claimed and the CLI."""
    if body is None:
        return functools.partial(job, log=log)

    @functools.wraps(body)
    def run(app, *args):
        with app.app_context():
            db.session.info["actor_id"] = None
            return body(db.session, utcnow(), app, *args)

    return logged(run) if log else run


@job
def escalation_sweep(session, now, app):
    """Escalate overdue tickets (app.tickets.sla.escalate_overdue)."""

    return escalate_overdue(session, now)


@job
def auto_close(session, now, app):
    """Close tickets resolved long enough ago (app.tickets.ratings.close_resolved)."""

    return close_resolved(session, now, app.config["CRM_AUTO_CLOSE_DAYS"])


@job
def deliver_notifications(session, now, app):
    """Send staff account mail (app.policy.accounts.deliver_account_mail: reset links, someone is waiting)
    by email, then what the outbox holds (app.notices.notify.deliver_outbox) through the configured channels,
    at most CRM_OUTBOX_BATCH outbox messages a run (the throttle). Returns the counts of both."""

    senders = senders_from_config(app.config)
    account = deliver_account_mail(
        session, senders.get("email"), now, max_attempts=app.config["CRM_OUTBOX_MAX_ATTEMPTS"]
    )
    counts = deliver_outbox(
        session, senders, now, batch=app.config["CRM_OUTBOX_BATCH"], max_attempts=app.config["CRM_OUTBOX_MAX_ATTEMPTS"]
    )
    return {key: counts[key] + account.get(key, 0) for key in counts}


@job
def queue_broadcasts(session, now, app):
    """Queue the broadcasts whose time has come (app.notices.broadcasts.queue_due_broadcasts)."""

    return queue_due_broadcasts(session, now, app.config["CRM_BASE_URL"], app.config["SECRET_KEY"])


@job
def monthly_bills(session, now, app, period=None):
    """Generate this month's bills (app.billing.bills.generate_bills); safe to run again or twice at once."""

    return generate_bills(session, period or to_local(now).strftime("%Y-%m"), now)


@job
def payment_reminders(session, now, app):
    """Remind customers with overdue bills (app.billing.bills.send_payment_reminders), throttled per customer."""

    return send_payment_reminders(session, now, to_local(now).date(), app.config["CRM_REMINDER_INTERVAL_DAYS"])


@job
def background_exports(session, now, app):
    """Build queued large exports (app.web.exports.run_export_jobs)."""

    return run_export_jobs(app, session, now, app.config["EXPORT_FOLDER"], app.config["CRM_EXPORT_KEEP_DAYS"])


@job
def background_tasks(session, now, app, holder="", batch=None):
    """Do the background tasks started from pages (app.admin.tasks.run_pending: bill runs, imports,
    survey sends), in
    committed batches with progress; each task is claimed on its own row, so this job needs no slot claim."""

    return run_pending(session, now, holder or "", batch or app.config.get("CRM_TASK_BATCH"))


@job
def contract_reminders(session, now, app):
    """Expire contracts past their end date and remind staff of expiries and rent due (app.care.contracts.daily)."""

    return daily(session, to_local(now).date(), now)


@job
def return_visit_tasks(session, now, app):
    """Create the return visits that have come due (app.tickets.return_visits.create_visits)."""

    return create_visits(session, now)


@job
def maintenance_work_orders(session, now, app):
    """Raise the work orders of planned maintenance coming due (app.facilities.maintenance.generate_work_orders)."""

    return generate_work_orders(session, to_local(now).date(), local_zone())


@job
def care_greetings(session, now, app):
    """Queue today's birthday and holiday greetings (app.care.greetings.send_greetings); safe to run again."""

    return send_greetings(session, to_local(now).date(), now)


@job
def renovation_reminders(session, now, app):
    """Remind staff of renovation inspections due and works overrunning (app.care.renovation.send_reminders)."""

    return send_reminders(session, to_local(now).date(), now)


@job(log=False)  # its own bookkeeping: not worth a line in the change history
def prune_job_runs(session, now, app):
    """Forget job runs older than CRM_JOB_RUN_KEEP_DAYS (the ledger would grow by ~5,000 rows a day)."""
    return forget_runs(session, now, app.config.get("CRM_JOB_RUN_KEEP_DAYS", 7))


@job(log=False)
def planner_statistics(session, now, app):
    """Once a day on SQLite, ``PRAGMA optimize``: statistics of the tables that changed enough since."""

    refresh_statistics(session.connection(), tables=())
    session.commit()


def forget_runs(session, now, keep_days):
    """Delete the job_run ledger's rows older than ``keep_days``; returns how many. Commits."""
    from sqlalchemy import delete

    removed = session.execute(
        delete(JobRun).where(JobRun.started_at < now - datetime.timedelta(days=keep_days))
    ).rowcount
    session.commit()
    return removed


def slot_of(now, period_seconds):
    """The scheduled run ``now`` belongs to: the start of its period, counted from ANCHOR."""
    elapsed = int((now - ANCHOR).total_seconds())
    return ANCHOR + datetime.timedelta(seconds=elapsed - elapsed % period_seconds)


def run_claimed(job, period_seconds, app, holder, *args):
    """Run ``job`` unless its current slot was already claimed; the claim row records where it ran."""

    with app.app_context():
        now = utcnow()
        host, _, pid = holder.rpartition(":")
        claim = JobRun(
            job=job.__name__, slot=slot_of(now, period_seconds), host=host[:100], pid=int(pid), started_at=now
        )
        db.session.add(claim)
        try:
            db.session.commit()
        except IntegrityError:  # another scheduler ran this slot
            db.session.rollback()
            return None
        claim_id = claim.id
        db.session.remove()
    outcome = "error"
    try:
        result = job(app, *args)
        outcome = str(result)
        return result
    except Exception as error:
        outcome = f"error: {error}"
        raise
    finally:
        with app.app_context():
            from sqlalchemy import update

            db.session.execute(
                update(JobRun).where(JobRun.id == claim_id).values(finished_at=utcnow(), outcome=outcome[:200])
            )
            db.session.commit()
            db.session.remove()


def register_jobs(scheduler, app, holder=None):
    """Add every job to ``scheduler``; with ``holder`` ("host:pid"), each run is claimed in job_run first."""
    with app.app_context():
        zone = local_zone()

    def add(job, trigger, period_seconds, **trigger_args):
        if holder is None:
            func, args = job, [app]
        else:
            func, args = run_claimed, [job, period_seconds, app, holder]
        if trigger == "interval":
            trigger_args.setdefault("start_date", ANCHOR)
        scheduler.add_job(func, trigger, args=args, id=job.__name__, replace_existing=True, **trigger_args)

    add(background_exports, "interval", 60, minutes=1)
    # not claimed per slot (it would add a ledger row every few seconds): each task is claimed itself
    seconds = app.config.get("CRM_TASK_SECONDS", 3)
    scheduler.add_job(
        background_tasks,
        "interval",
        args=[app, holder or ""],
        id=background_tasks.__name__,
        replace_existing=True,
        seconds=seconds,
        start_date=ANCHOR,
    )
    add(monthly_bills, "cron", DAY_SECONDS, day=app.config.get("CRM_BILLING_DAY", 1), hour=2, timezone=zone)
    add(payment_reminders, "cron", DAY_SECONDS, hour=10, timezone=zone)
    add(queue_broadcasts, "interval", 60, minutes=1)
    seconds = app.config.get("CRM_OUTBOX_SECONDS", 30)
    add(deliver_notifications, "interval", seconds, seconds=seconds)
    add(auto_close, "interval", 3600, hours=1)
    add(contract_reminders, "cron", DAY_SECONDS, hour=8, timezone=zone)
    add(maintenance_work_orders, "cron", DAY_SECONDS, hour=6, timezone=zone)
    add(care_greetings, "cron", DAY_SECONDS, hour=9, timezone=zone)
    add(renovation_reminders, "cron", DAY_SECONDS, hour=8, minute=30, timezone=zone)
    add(return_visit_tasks, "interval", 600, minutes=10)
    minutes = app.config.get("CRM_ESCALATION_SWEEP_MINUTES", 1)
    add(escalation_sweep, "interval", minutes * 60, minutes=minutes)
    add(prune_job_runs, "interval", 6 * 3600, hours=6)
    add(planner_statistics, "cron", DAY_SECONDS, hour=3, timezone=zone)
    return scheduler
