"""Planned maintenance (保养计划): occurrences of a plan raise maintenance work orders ahead of time.

- A plan recurs every N days/weeks/months from its start date, or by a cron rule (five fields,
  read by APScheduler's CronTrigger in the configured time zone).
- The job raises a work order (a Ticket of type maintenance) for every occurrence due within the
  plan's ``lead_days``; the MaintenanceOccurrence row, unique per (plan, due date), is the claim:
  running the job twice, or two jobs at once, raises exactly one work order per occurrence.
- The work order is dispatched like any ticket (dispatch rules, duty, load); it is due at the end
  of the occurrence's day, so an overdue maintenance is escalated by the SLA sweep like any ticket.
- The inspection result and readings are recorded on the occurrence and written on the ticket's timeline.
"""

import datetime

from dateutil.relativedelta import relativedelta
from flask_babel import lazy_gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.exc import IntegrityError

from app.core.clock import local_midnight
from app.core.errors import DomainError
from app.models import MaintenanceOccurrence, MaintenancePlan, Ticket, TicketEvent
from app.core.column_types import INSPECTION_RESULTS
from app.tickets.lifecycle import check_note_allowed
from app.models import OPEN_STATUSES
from app.tickets.lifecycle import manages_tickets

MAX_OCCURRENCES = 366  # per plan per run: a safety net against a rule that fires every minute


def _cron_trigger(expression, zone):
    from apscheduler.triggers.cron import CronTrigger

    try:
        return CronTrigger.from_crontab(expression.strip(), timezone=zone)
    except (ValueError, TypeError) as error:
        raise DomainError(
            _("Not a valid cron rule (minute hour day month weekday): %(error)s", error=error), field="cron"
        )


def check_plan(plan, zone=None):
    if plan.cron and plan.cron.strip():
        _cron_trigger(plan.cron, zone or datetime.timezone.utc)
    elif plan.every is None or plan.every < 1:
        raise DomainError(_("Repeat at least every 1 day, week or month."), field="every")
    if plan.end_date and plan.start_date and plan.end_date < plan.start_date:
        raise DomainError(_("The end date cannot be before the start date."), field="end_date")
    if plan.lead_days is not None and not 0 <= plan.lead_days <= 90:
        raise DomainError(_("Between 0 and 90 days."), field="lead_days")


def occurrences(plan, first, last, zone):
    """The plan's due dates from ``first`` to ``last`` (inclusive), within its start and end dates."""
    first = max(first, plan.start_date)
    if plan.end_date is not None:
        last = min(last, plan.end_date)
    if last < first:
        return []
    dates = []
    if plan.cron and plan.cron.strip():
        trigger = _cron_trigger(plan.cron, zone)
        moment = datetime.datetime.combine(first, datetime.time(), zone)
        previous = None
        while len(dates) < MAX_OCCURRENCES:
            fire = trigger.get_next_fire_time(previous, moment)
            if fire is None or fire.date() > last:
                break
            if not dates or dates[-1] != fire.date():
                dates.append(fire.date())
            previous, moment = fire, fire + datetime.timedelta(seconds=1)
        return dates
    step = plan.every
    k = 0
    while len(dates) < MAX_OCCURRENCES:
        if plan.unit == "days":
            due = plan.start_date + datetime.timedelta(days=k * step)
        elif plan.unit == "weeks":
            due = plan.start_date + datetime.timedelta(weeks=k * step)
        else:
            due = plan.start_date + relativedelta(months=k * step)
        if due > last:
            break
        if due >= first:
            dates.append(due)
        k += 1
    return dates


def _work_order(plan, due, zone):
    start = local_midnight(due, zone).astimezone(datetime.timezone.utc)
    end = datetime.datetime.combine(due, datetime.time(23, 59), zone).astimezone(datetime.timezone.utc)
    equipment = plan.equipment
    where = " ".join(x for x in (str(equipment.building or ""), equipment.location or "") if x)
    label = str(_("Equipment"))
    description = "\n".join(x for x in (f"{label}: {equipment} {where}".strip(), plan.checklist or "") if x)
    return Ticket(
        title=f"{plan.title}（{due.isoformat()}）"[:200],
        type="maintenance",
        priority=plan.priority,
        channel="web",
        department_id=plan.department_id,
        description=description,
        response_due=start,
        resolution_due=end,
        deadline=end,
    )


def generate_work_orders(session, today, zone):
    """Raise the work orders of every active plan's occurrences due from today to today + lead days.

    Returns how many were raised by this run.
    """
    raised = 0
    plans = (
        session.execute(select(MaintenancePlan).where(MaintenancePlan.active.is_(True)).order_by(MaintenancePlan.id))
        .scalars()
        .all()
    )
    for plan in plans:
        try:
            dates = occurrences(plan, today, today + datetime.timedelta(days=plan.lead_days), zone)
        except DomainError:
            continue  # a rule made invalid outside the pages; the plan page shows why
        done = set(
            session.execute(
                select(MaintenanceOccurrence.due_date).where(
                    MaintenanceOccurrence.plan_id == plan.id, MaintenanceOccurrence.due_date.in_(dates or [today])
                )
            ).scalars()
        )
        for due in dates:
            if due in done:
                continue
            try:
                with session.begin_nested():
                    occurrence = MaintenanceOccurrence(plan_id=plan.id, due_date=due)
                    session.add(occurrence)
                    session.flush()  # the claim: a second run stops here
                    occurrence.ticket = _work_order(plan, due, zone)
                    session.flush()
            except IntegrityError:
                continue
            raised += 1
        session.commit()
    return raised


def apply_inspection(session, occurrence, actor_id, now):
    """Check the inspection set on ``occurrence`` and write it on the work order's timeline (caller commits).

    As for a note on the ticket: the desk and supervisors may record it, a technician only on their own tickets.
    """

    if occurrence.ticket is not None:
        check_note_allowed(session, occurrence.ticket, actor_id)
    if occurrence.result not in INSPECTION_RESULTS:
        raise DomainError(_("Choose the inspection result."), field="result")
    occurrence.readings = (occurrence.readings or "").strip() or None
    if occurrence.ticket is not None:
        note = str(_("Inspection: %(result)s", result=INSPECTION_RESULTS.label(occurrence.result)))
        if occurrence.readings:
            note += "\n" + str(_("Readings: %(readings)s", readings=occurrence.readings))
        session.add(TicketEvent(ticket=occurrence.ticket, at=now, actor_id=actor_id, kind="note", note=note))


def record_inspection(session, occurrence, result, readings, actor_id, now):
    """The technician records the inspection result and readings of one occurrence. Commits."""
    occurrence.result, occurrence.readings = result, readings
    try:
        apply_inspection(session, occurrence, actor_id, now)
        session.commit()
    except Exception:
        session.rollback()
        raise


def due_inspections(session, actor_id, limit=100):
    """The inspections waiting for a result that ``actor_id`` records: the open maintenance work orders
    assigned to them, or for those who work any ticket (app.tickets.lifecycle.manages_tickets) every one their row
    scope shows; the earliest due first."""

    query = (
        select(MaintenanceOccurrence)
        .join(Ticket, MaintenanceOccurrence.ticket_id == Ticket.id)
        .options(selectinload(MaintenanceOccurrence.plan).selectinload(MaintenancePlan.equipment))
        .options(selectinload(MaintenanceOccurrence.ticket))
        .where(MaintenanceOccurrence.result.is_(None), Ticket.status.in_(OPEN_STATUSES))
        .order_by(MaintenanceOccurrence.due_date, MaintenanceOccurrence.id)
        .limit(limit)
    )
    if not manages_tickets(session, actor_id):
        query = query.where(Ticket.assignee_id == actor_id)
    # row scope (app.policy.scoping) holds on the joined work orders as on any query of tickets
    return session.execute(query).scalars().all()
