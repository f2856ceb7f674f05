"""`flask --app app crm …` commands: thin wrappers over domain functions."""

import os
import secrets

import click
from sqlalchemy import inspect
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from app.core.clock import utcnow
from app.extensions import db
from app.notices.notify import ensure_templates
from app.admin.settings import seed_defaults
from app.policy.accounts import password_problem
from app.core.text_search import refresh_statistics
from app.devdata.demo import load_demo_data
from app.models import Customer
from app.devdata.demo import DEMO_STAFF
from app.devdata.demo import DEPARTMENTS, _create_staff
from app.devdata.generate import SIZES, generate, is_empty, staff_handlers
from app.models import Department, StaffProfile
from app.jobs import auto_close, escalation_sweep
from app.jobs import (
    care_greetings,
    contract_reminders,
    maintenance_work_orders,
    renovation_reminders,
    return_visit_tasks,
)
from app.jobs import deliver_notifications, queue_broadcasts
from app.jobs import background_tasks
from app.core.scheduler_lock import holder_name
from app.jobs import monthly_bills
from app.core.validation import check_period
from app.jobs import payment_reminders
from app.admin.backup import BackupError, backup, now_utc
from app.admin.backup import restore
from app.admin.launcher import commands, run_together
from app.jobs import JOB_DEFAULTS, register_jobs
from app.core.scheduler_lock import scheduler_lock
from app.portal.links import sign_in_url

crm_cli = AppGroup("crm", help="Property CRM administration.")


def setup_database(reset_roles=False):
    """Bring the schema to the newest migration, then sync permissions, built-in roles and message templates."""
    from flask_migrate import upgrade

    upgrade()
    appbuilder = current_app.appbuilder
    new_resources = appbuilder.sm.new_resources()  # before FAB registers this release's pages
    # FAB hands every permission it registers to the admin role: on a fresh database it must exist first
    appbuilder.sm.add_role(appbuilder.sm.auth_role_admin)
    appbuilder.add_permissions(update_perms=True)
    appbuilder.sm.sync_roles(reset=reset_roles, new_resources=new_resources)
    ensure_templates(db.session)
    seed_defaults(db.session, utcnow())


def ensure_admin(username, password, email):
    """Create the admin account if missing; returns (created, password used)."""
    sm = current_app.appbuilder.sm
    if sm.find_user(username=username):
        return False
    check_admin_password(username, password, email)
    user = sm.add_user(username, "系统", "管理员", email, sm.find_role(sm.auth_role_admin), password)
    if not user:
        raise click.ClickException("Could not create the admin account (see the log).")
    return True


def check_admin_password(username, password, email):
    """Refuse a missing or weak password for a new admin account, with the reason."""
    if not password:
        raise click.UsageError("Set the admin password with --password or CRM_ADMIN_PASSWORD.")
    problem = password_problem(password, [username, email])
    if problem:
        raise click.UsageError(f"The admin password is refused: {problem}")


@crm_cli.command("init")
@click.option("--admin", "username", default=None, help="Admin username (default: CRM_ADMIN_USERNAME or admin).")
@click.option("--password", default=None, help="Admin password (default: CRM_ADMIN_PASSWORD).")
@click.option("--email", default=None)
@click.option("--reset-roles", is_flag=True, help="Give the built-in roles their built-in permissions back.")
@with_appcontext
def init_command(username, password, email, reset_roles):
    """Migrate the schema, create permissions, built-in roles and the admin account."""
    cfg = current_app.config
    username = username or cfg["CRM_ADMIN_USERNAME"]
    password, email = password or cfg.get("CRM_ADMIN_PASSWORD"), email or cfg["CRM_ADMIN_EMAIL"]
    fresh = not inspect(db.engine).has_table(current_app.appbuilder.sm.user_model.__tablename__)
    if fresh:  # the admin account is to be created: a refused password leaves the database as it was
        check_admin_password(username, password, email)
    setup_database(reset_roles=reset_roles)

    refresh_statistics(db.session.connection())  # the planner's statistics for what is there already
    db.session.commit()
    created = ensure_admin(username, password, email)
    click.echo(f"Schema migrated, roles synced; admin '{username}' {'created' if created else 'already exists'}.")


@crm_cli.command("demo")
@click.option("--seed", default=2026, show_default=True, type=int)
@click.option("--customers", default=300, show_default=True, type=int)
@click.option("--if-empty", is_flag=True, help="Do nothing when customers already exist.")
@click.option("--staff-password", default=None, help="Password of the demo staff accounts (default: random, printed).")
@with_appcontext
def demo_command(seed, customers, if_empty, staff_password):
    """Load realistic demo data (deterministic for a seed)."""

    if if_empty and db.session.query(Customer.id).first() is not None:
        click.echo("Demo data skipped: the database already has customers.")
        return
    password = staff_password or os.environ.get("CRM_DEMO_PASSWORD") or secrets.token_urlsafe(9)
    summary = load_demo_data(db.session, seed=seed, customers=customers, staff_password=password)
    click.echo("Demo data loaded: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    click.echo(f"Demo staff accounts (password {password}): " + ", ".join(summary_users()))


def summary_users():

    return [f"{username} ({role})" for username, role, *_ in DEMO_STAFF]


@crm_cli.command("generate")
@click.option(
    "--size",
    type=click.Choice(["small", "medium", "large"]),
    default="small",
    show_default=True,
    help="small: 2,000 units, 10,000 tickets; medium: 20,000 units, 100,000 tickets; "
    "large: 1,000 buildings, 100,000 units and customers, 1,000,000 tickets, 1,200,000 bills.",
)
@click.option("--seed", default=2026, show_default=True, type=int)
@click.option("--force", is_flag=True, help="Add the data set even though the database already has data.")
@click.option("--staff-password", default=None, help="Password of the staff accounts created (default: random).")
@with_appcontext
def generate_command(size, seed, force, staff_password):
    """Fill the database with a large realistic data set in bulk (benchmarks, capacity tests)."""
    import datetime
    import random
    import time

    session = db.session
    if not force and not is_empty(session.connection()):
        raise click.ClickException(
            "The database already has customers, tickets or bills; use --force to add a generated data set anyway."
        )
    started = time.perf_counter()
    session.info["dispatch"] = False
    session.info["audit"] = False
    now = utcnow().replace(microsecond=0)
    if session.query(StaffProfile.id).first() is None:  # the demo's staff handle the generated tickets
        departments = {d.name: d for d in session.query(Department)}
        for name, description in DEPARTMENTS:
            if name not in departments:
                departments[name] = Department(name=name, description=description)
                session.add(departments[name])
        password = staff_password or os.environ.get("CRM_DEMO_PASSWORD") or secrets.token_urlsafe(9)
        _create_staff(session, random.Random(seed), departments, password, set(), now - datetime.timedelta(days=400))
        session.commit()
        click.echo(f"Staff accounts (password {password}): " + ", ".join(summary_users()))
    handlers = staff_handlers(session)
    click.echo(f"Generating the {size} data set ({SIZES[size]['tickets']:,} tickets) …")
    counts = generate(session.connection(), size, seed=seed, now=now, log=click.echo, staff_user_ids=handlers)
    session.commit()

    refresh_statistics(session.connection(), merge_indexes=True)  # the planner sees the new sizes
    session.commit()
    click.echo(", ".join(f"{name} {count:,}" for name, count in counts.items()))
    click.echo(f"Generated in {time.perf_counter() - started:.1f} s.")


@crm_cli.command("sweep")
@with_appcontext
def sweep_command():
    """Escalate overdue tickets and close long-resolved ones now (the scheduler's jobs, run once)."""

    counts = escalation_sweep(current_app._get_current_object())
    click.echo(f"Escalated: level 1 {counts['level1']}, level 2 {counts['level2']}.")
    click.echo(f"Closed after resolution: {auto_close(current_app._get_current_object())}.")


@crm_cli.command("care")
@with_appcontext
def care_command():
    """Run the customer-care jobs once now: contracts (expiry, reminders), maintenance work orders,
    return visits, renovation reminders, birthday and holiday greetings. Each is safe to repeat."""

    app = current_app._get_current_object()
    click.echo(f"Contracts: {contract_reminders(app)}")
    click.echo(f"Maintenance work orders raised: {maintenance_work_orders(app)}")
    click.echo(f"Return visits created: {return_visit_tasks(app)}")
    click.echo(f"Renovation reminders: {renovation_reminders(app)}")
    click.echo(f"Greetings queued: {care_greetings(app)}")


@crm_cli.command("deliver")
@with_appcontext
def deliver_command():
    """Queue due broadcasts and send what waits in the outbox now (the scheduler's jobs, run once)."""

    click.echo(f"Broadcasts queued: {queue_broadcasts(current_app._get_current_object())}.")
    counts = deliver_notifications(current_app._get_current_object())
    click.echo(f"Outbox: sent {counts['sent']}, to retry {counts['retry']}, failed {counts['failed']}.")


@crm_cli.command("tasks")
@click.option("--batch", type=int, default=None, help="Items per committed batch (default CRM_TASK_BATCH).")
@with_appcontext
def tasks_command(batch):
    """Do the queued background tasks now (bill runs and imports started from pages; the scheduler's job, run once)."""

    click.echo(f"Background tasks ended: {background_tasks(current_app._get_current_object(), holder_name(), batch)}.")


@crm_cli.command("bills")
@click.option("--period", default=None, help="YYYY-MM (default: this month).")
@with_appcontext
def bills_command(period):
    """Generate the bills of a period now (the scheduler's monthly job, run once; safe to repeat)."""

    if period and check_period(period):
        raise click.BadParameter(str(check_period(period)), param_hint="--period")
    run = monthly_bills(current_app._get_current_object(), period)
    click.echo(
        f"Bills for {run.period}: created {run.created}, already there {run.existing}, problems {run.problem_count}."
    )
    for line in (run.problems or "").splitlines()[:20]:
        click.echo(f"  {line}")


@crm_cli.command("remind")
@with_appcontext
def remind_command():
    """Send payment reminders now (the scheduler's daily job, run once)."""

    click.echo(f"Payment reminders queued: {payment_reminders(current_app._get_current_object())}.")


@crm_cli.command("backup")
@click.option("--to", "target", default=None, help="Directory for the archive (default: CRM_BACKUP_FOLDER).")
@with_appcontext
def backup_command(target):
    """Write a consistent snapshot of the database and the uploaded files (safe while the app runs)."""

    try:
        path = backup(
            db.engine, current_app.config["UPLOAD_FOLDER"], target or current_app.config["BACKUP_FOLDER"], now_utc()
        )
    except BackupError as error:
        raise click.ClickException(str(error))
    click.echo(f"Backup written: {path}")


@crm_cli.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(archive, yes):
    """Replace the database and uploaded files with a backup's (stop the app and scheduler first)."""

    if not yes:
        click.confirm("Everything since the backup will be lost. Restore?", abort=True)
    db.session.remove()
    try:
        manifest = restore(db.engine, current_app.config["UPLOAD_FOLDER"], archive)
    except BackupError as error:
        raise click.ClickException(str(error))
    click.echo(f"Restored the backup of {manifest['created_at']}.")


@crm_cli.command("run", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def run_command(host, port):
    """Serve the app and run the job scheduler beside it (the whole product, e.g. `make run`);
    Ctrl-C stops both. In production run the web server and `crm scheduler` as their own services."""

    raise SystemExit(run_together(commands(host, port), log=click.echo))


@crm_cli.command("scheduler")
@click.option(
    "--retry-seconds",
    type=int,
    default=None,
    help="How often a waiting scheduler tries to take over (default: CRM_SCHEDULER_RETRY_SECONDS, 15).",
)
@with_appcontext
def scheduler_command(retry_seconds):
    """Run the job scheduler (start one on every host if you like: one holds the lock and schedules,
    the others wait and take over within a minute if it dies; web workers never schedule)."""
    import signal
    import time

    from apscheduler.schedulers.blocking import BlockingScheduler

    app = current_app._get_current_object()
    retry = retry_seconds or app.config["CRM_SCHEDULER_RETRY_SECONDS"]
    lock = scheduler_lock(db.engine, app.instance_path)
    holder = holder_name()

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            if not lock.try_acquire():
                click.echo(f"[{holder}] another scheduler holds the lock; trying again every {retry} s.")
                while not lock.try_acquire():
                    time.sleep(retry)
            click.echo(f"[{holder}] scheduler lock taken; scheduling jobs.", err=False)
            scheduler = BlockingScheduler(job_defaults=JOB_DEFAULTS, timezone="UTC")
            register_jobs(scheduler, app, holder)

            def watch(scheduler=scheduler):
                if not lock.still_held():
                    click.echo(f"[{holder}] scheduler lock lost; stopping jobs.")
                    scheduler.shutdown(wait=False)

            scheduler.add_job(watch, "interval", seconds=retry, id="scheduler_lock_watch", max_instances=1)
            scheduler.start()  # returns when watch() found the lock lost
            lock.release()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        lock.release()


@crm_cli.command("portal-link")
@click.argument("phone")
@with_appcontext
def portal_link_command(phone):
    """Print a resident's personal sign-in link to the portal (to send them by hand)."""
    from sqlalchemy import select

    customer = db.session.execute(select(Customer).where(Customer.phone == phone.strip())).scalar_one_or_none()
    if customer is None:
        raise click.ClickException(f"No customer has the mobile number {phone}.")
    click.echo(sign_in_url(customer))
