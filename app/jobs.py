"""APScheduler job definitions: each job is thin and calls one domain function.

Jobs are registered by register_jobs(scheduler, app) in the one scheduler process
(`flask crm scheduler`); web workers never start a scheduler. Missed runs coalesce into one,
and a run may start minutes late (APScheduler's own default grace time is one second).
Every job is idempotent by construction, so a catch-up run or a second scheduler does no harm.
"""
from app.extensions import db
from app.types import utcnow

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}


def logged(job):
    """Each run of a job that did something is written to the change history with what it returned."""
    import functools

    @functools.wraps(job)
    def run(app, *args):
        result = job(app, *args)
        idle = not result or (isinstance(result, dict) and not any(result.values()))
        if idle:  # a run that found nothing to do is not worth a line every 30 seconds
            return result
        with app.app_context():
            from app.audit import record_event

            summary = getattr(result, "period", None) and f"{result.period}: {result.created}" or str(result)
            record_event(db.session, "job", job.__name__, 0, summary[:200])
        return result

    return run


@logged
def escalation_sweep(app):
    """Escalate overdue tickets (app.sla.escalate_overdue)."""
    from app.sla import escalate_overdue

    with app.app_context():
        db.session.info["actor_id"] = None
        return escalate_overdue(db.session, utcnow())


@logged
def auto_close(app):
    """Close tickets resolved long enough ago (app.ratings.close_resolved)."""
    from app.ratings import close_resolved

    with app.app_context():
        db.session.info["actor_id"] = None
        return close_resolved(db.session, utcnow(), app.config["CRM_AUTO_CLOSE_DAYS"])


@logged
def deliver_notifications(app):
    """Send what the outbox holds (app.notify.deliver_outbox) through the configured channels,
    at most CRM_OUTBOX_BATCH messages a run (the throttle)."""
    from app.channels import senders_from_config
    from app.notify import deliver_outbox

    with app.app_context():
        db.session.info["actor_id"] = None
        return deliver_outbox(db.session, senders_from_config(app.config), utcnow(),
                              batch=app.config["CRM_OUTBOX_BATCH"], max_attempts=app.config["CRM_OUTBOX_MAX_ATTEMPTS"])


@logged
def queue_broadcasts(app):
    """Queue the broadcasts whose time has come (app.broadcasts.queue_due_broadcasts)."""
    from app.broadcasts import queue_due_broadcasts

    with app.app_context():
        db.session.info["actor_id"] = None
        return queue_due_broadcasts(db.session, utcnow(), app.config["CRM_BASE_URL"], app.config["SECRET_KEY"])


@logged
def monthly_bills(app, period=None):
    """Generate this month's bills (app.billing.generate_bills); safe to run again or twice at once."""
    from app.billing import generate_bills
    from app.tickets import local_zone

    with app.app_context():
        db.session.info["actor_id"] = None
        now = utcnow()
        return generate_bills(db.session, period or now.astimezone(local_zone()).strftime("%Y-%m"), now)


@logged
def payment_reminders(app):
    """Remind customers with overdue bills (app.billing.send_payment_reminders), throttled per customer."""
    from app.billing import send_payment_reminders
    from app.tickets import local_zone

    with app.app_context():
        db.session.info["actor_id"] = None
        now = utcnow()
        return send_payment_reminders(db.session, now, now.astimezone(local_zone()).date(),
                                      app.config["CRM_REMINDER_INTERVAL_DAYS"])


@logged
def background_exports(app):
    """Build queued large exports (app.exports.run_export_jobs)."""
    from app.exports import run_export_jobs

    with app.app_context():
        db.session.info["actor_id"] = None
        return run_export_jobs(app, db.session, utcnow(), app.config["EXPORT_FOLDER"],
                               app.config["CRM_EXPORT_KEEP_DAYS"])


@logged
def contract_reminders(app):
    """Expire contracts past their end date and remind staff of expiries and rent due (app.contracts.daily)."""
    from app.contracts import daily
    from app.tickets import local_zone

    with app.app_context():
        db.session.info["actor_id"] = None
        now = utcnow()
        return daily(db.session, now.astimezone(local_zone()).date(), now)


@logged
def return_visit_tasks(app):
    """Create the return visits that have come due (app.return_visits.create_visits)."""
    from app.return_visits import create_visits

    with app.app_context():
        db.session.info["actor_id"] = None
        return create_visits(db.session, utcnow())


@logged
def maintenance_work_orders(app):
    """Raise the work orders of planned maintenance coming due (app.maintenance.generate_work_orders)."""
    from app.maintenance import generate_work_orders
    from app.tickets import local_zone

    with app.app_context():
        db.session.info["actor_id"] = None
        zone = local_zone()
        return generate_work_orders(db.session, utcnow().astimezone(zone).date(), zone)


@logged
def care_greetings(app):
    """Queue today's birthday and holiday greetings (app.care.send_greetings); safe to run again."""
    from app.care import send_greetings
    from app.tickets import local_zone

    with app.app_context():
        db.session.info["actor_id"] = None
        now = utcnow()
        return send_greetings(db.session, now.astimezone(local_zone()).date(), now)


@logged
def renovation_reminders(app):
    """Remind staff of renovation inspections due and works overrunning (app.renovation.send_reminders)."""
    from app.renovation import send_reminders
    from app.tickets import local_zone

    with app.app_context():
        db.session.info["actor_id"] = None
        now = utcnow()
        return send_reminders(db.session, now.astimezone(local_zone()).date(), now)


def register_jobs(scheduler, app):
    scheduler.add_job(background_exports, "interval", minutes=1, args=[app], id="background_exports",
                      replace_existing=True)
    zone = app.config.get("TIMEZONE", "Asia/Shanghai")
    scheduler.add_job(monthly_bills, "cron", day=app.config.get("CRM_BILLING_DAY", 1), hour=2, timezone=zone,
                      args=[app], id="monthly_bills", replace_existing=True)
    scheduler.add_job(payment_reminders, "cron", hour=10, timezone=zone, args=[app], id="payment_reminders",
                      replace_existing=True)
    scheduler.add_job(queue_broadcasts, "interval", minutes=1, args=[app], id="queue_broadcasts",
                      replace_existing=True)
    scheduler.add_job(deliver_notifications, "interval", seconds=app.config.get("CRM_OUTBOX_SECONDS", 30),
                      args=[app], id="deliver_notifications", replace_existing=True)
    scheduler.add_job(contract_reminders, "cron", hour=8, timezone=zone, args=[app], id="contract_reminders",
                      replace_existing=True)
    scheduler.add_job(maintenance_work_orders, "cron", hour=6, timezone=zone, args=[app],
                      id="maintenance_work_orders", replace_existing=True)
    scheduler.add_job(care_greetings, "cron", hour=9, timezone=zone, args=[app], id="care_greetings",
                      replace_existing=True)
    scheduler.add_job(renovation_reminders, "cron", hour=8, minute=30, timezone=zone, args=[app],
                      id="renovation_reminders", replace_existing=True)
    scheduler.add_job(return_visit_tasks, "interval", minutes=10, args=[app], id="return_visit_tasks",
                      replace_existing=True)
    scheduler.add_job(auto_close, "interval", hours=1, args=[app], id="auto_close", replace_existing=True)
    minutes = app.config.get("CRM_ESCALATION_SWEEP_MINUTES", 1)
    scheduler.add_job(escalation_sweep, "interval", minutes=minutes, args=[app], id="escalation_sweep",
                      replace_existing=True)
    return scheduler
