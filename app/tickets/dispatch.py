"""Automatic dispatch of new tickets: the department by rule, then the least-loaded person on duty.

Rule: the most specific DispatchRule for the ticket's type (building and unit use both match >
building > unit use > type only) names the department. Within it, the member who is on duty
now (their weekly shifts, or the on-duty flag when they have none; never on leave), covers the
ticket's building (when bound to buildings), with the
fewest open tickets, below their maximum, gets it; ties go to whoever was assigned least
recently. No rule, or nobody free: the ticket waits in the (department's) pending pool.
The department's staff rows are locked while choosing, so two tickets created at once cannot
both take the last free place of one person.
"""

import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.models import OPEN_STATUSES, DispatchRule, StaffProfile, Ticket

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def choose_department(session, ticket):
    unit = ticket.unit
    building_id = unit.building_id if unit is not None else None
    unit_use = unit.use if unit is not None else None
    rules = session.execute(select(DispatchRule).where(DispatchRule.ticket_type == ticket.type)).scalars().all()

    def fits(rule):
        return (rule.building_id in (None, building_id)) and (rule.unit_use in (None, unit_use))

    def specificity(rule):
        return (rule.building_id is not None) * 2 + (rule.unit_use is not None)

    matching = sorted((r for r in rules if fits(r)), key=lambda r: (-specificity(r), r.id))
    return matching[0].department if matching else None


def is_on_duty(profile, now, zone):
    """On duty now: within one of their weekly shifts, or (with no shifts) the on-duty flag; never on leave."""
    if profile.on_leave:
        return False
    if not profile.shifts:
        return bool(profile.on_duty)
    local = now.astimezone(zone)
    minute = local.hour * 60 + local.minute
    return any(s.weekday == local.weekday() and s.start_minute <= minute < s.end_minute for s in profile.shifts)


def covers(profile, building_id):
    """Staff bound to buildings take tickets of those buildings only; unbound staff cover all.
    A ticket with no building (no unit given) may go to anyone."""
    return building_id is None or not profile.buildings or any(b.id == building_id for b in profile.buildings)


def choose_assignee(session, department_id, now, zone, pending=None, building_id=None):
    """The StaffProfile to assign, or None; locks the department's staff rows until commit.

    ``pending`` counts tickets assigned in this flush but not yet written, per user id.
    """
    query = (
        select(StaffProfile)
        .where(StaffProfile.department_id == department_id)
        .options(selectinload(StaffProfile.buildings), selectinload(StaffProfile.shifts))
        .order_by(StaffProfile.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=StaffProfile)
    profiles = [
        p for p in session.execute(query).scalars().all() if is_on_duty(p, now, zone) and covers(p, building_id)
    ]
    if not profiles:
        return None
    loads = dict(
        session.execute(
            select(Ticket.assignee_id, func.count())
            .where(Ticket.status.in_(OPEN_STATUSES), Ticket.assignee_id.in_([p.user_id for p in profiles]))
            .group_by(Ticket.assignee_id)
        ).all()
    )
    for user_id, count in (pending or {}).items():
        loads[user_id] = loads.get(user_id, 0) + count
    free = [p for p in profiles if loads.get(p.user_id, 0) < p.max_open_tickets]
    if not free:
        return None
    return min(free, key=lambda p: (loads.get(p.user_id, 0), p.last_assigned_at or _EPOCH, p.id))


def dispatch(session, ticket, now, zone, pending=None):
    """Route a new ticket (department, then assignee); returns the chosen StaffProfile or None.

    ``pending`` counts tickets given to each user earlier in the same flush (kept by the caller)."""
    if ticket.department is None and ticket.department_id is None:
        ticket.department = choose_department(session, ticket)
    department_id = ticket.department.id if ticket.department is not None else ticket.department_id
    if department_id is None or ticket.assignee_id is not None or ticket.assignee is not None:
        return None
    building_id = ticket.unit.building_id if ticket.unit is not None else None
    profile = choose_assignee(session, department_id, now, zone, pending, building_id)
    if profile is None:
        return None
    # the history line, the workload stamp and the notice follow in app.tickets.lifecycle.record_assignment
    ticket.assignee_id = profile.user_id
    ticket.status = "assigned"
    return profile
