"""Service levels: due times set when a ticket is created, and the escalation sweep.

Due times are stored on the ticket; the sweep only compares them with ``now``, so running it
again, late, or twice at once is harmless: each level is claimed by one conditional UPDATE
(``WHERE escalation_level = n``), which only one sweep can win.
"""

import datetime

from flask_babel import lazy_gettext as _
from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.orm import joinedload

from app.admin.settings import ESCALATION_LEVEL_TWO, SLA_FALLBACK_RESOLUTION, SLA_FALLBACK_RESPONSE, setting
from app.core.clock import local_zone
from app.models import OPEN_STATUSES, SlaPolicy, Ticket, TicketEvent, Unit
from app.notices.notify import notify_escalation

FALLBACK = (4 * 60, 48 * 60)  # built-in seed of the settings used when no row covers a type × priority
RAISED_PRIORITY = {"low": "medium", "medium": "high", "high": "high"}
LEVEL_TWO_AFTER = datetime.timedelta(hours=4)  # built-in seed of the setting escalation_level_two_minutes


def fallback_minutes(session):
    """(response, resolution) minutes when no service level covers a ticket: the settings' rows."""
    return setting(session, SLA_FALLBACK_RESPONSE), setting(session, SLA_FALLBACK_RESOLUTION)


def level_two_delay(session):
    """How long after level 1 an overdue ticket reaches level 2: the setting's row."""
    return datetime.timedelta(minutes=setting(session, ESCALATION_LEVEL_TWO))


def policy_minutes(session, ticket_type, priority):
    row = session.execute(
        select(SlaPolicy.response_minutes, SlaPolicy.resolution_minutes).where(
            SlaPolicy.ticket_type == ticket_type, SlaPolicy.priority == priority
        )
    ).first()
    if row is not None:
        return tuple(row)
    return fallback_minutes(session)


def policy_table(connection):
    """Every (type, priority) with a service level → (response, resolution) minutes, as
    policy_minutes answers them, read in one query (for bulk work; others: fallback_minutes)."""
    table = {}
    table.update(
        {
            (t, p): (r, s)
            for t, p, r, s in connection.execute(
                select(
                    SlaPolicy.ticket_type, SlaPolicy.priority, SlaPolicy.response_minutes, SlaPolicy.resolution_minutes
                )
            )
        }
    )
    return table


def apply_sla(session, ticket, now):
    """Set the response and resolution due times of a new ticket (and its deadline if none was given)."""
    start = ticket.created_at or now
    respond, resolve = policy_minutes(session, ticket.type or "repair", ticket.priority or "medium")
    ticket.response_due = start + datetime.timedelta(minutes=respond)
    ticket.resolution_due = start + datetime.timedelta(minutes=resolve)
    if ticket.deadline is None:
        ticket.deadline = ticket.resolution_due


def _overdue(now):
    return or_(
        and_(Ticket.response_due < now, Ticket.responded_at.is_(None)),
        and_(Ticket.resolution_due < now, Ticket.resolved_at.is_(None)),
    )


def escalation_step(from_level, priority, now):
    """What one escalation step writes, the one rule for the overdue sweep and an unhappy return
    visit: the next level, the priority one step up on reaching level 1, the time. ``priority`` is
    a ticket's value, or the column itself when the step is written by an UPDATE."""
    if from_level == 0:
        if isinstance(priority, str) or priority is None:
            priority = RAISED_PRIORITY.get(priority, priority)
        else:
            priority = case(*[(priority == old, new) for old, new in RAISED_PRIORITY.items()], else_=priority)
    return {"escalation_level": from_level + 1, "escalated_at": now, "priority": priority}


def escalate(session, ticket, now, note, actor_id=None):
    """Raise a loaded ticket one level by the sweep's rule, in the caller's transaction (through the
    ORM, so the change history records it)."""
    for key, value in escalation_step(ticket.escalation_level or 0, ticket.priority, now).items():
        if getattr(ticket, key) != value:  # an unchanged priority is no change in the history
            setattr(ticket, key, value)
    session.add(TicketEvent(ticket=ticket, at=now, actor_id=actor_id, kind="escalated", note=note))


def _claim(session, ticket_id, from_level, now):
    """Raise one ticket one level; True only for the one sweep whose UPDATE changed the row."""
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.escalation_level == from_level, Ticket.status.in_(OPEN_STATUSES))
        .values(**escalation_step(from_level, Ticket.priority, now))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def escalate_overdue(session, now, level_two_after=None, zone=None):
    """Escalate open tickets past a due time: level 1 (priority one step up, the department's
    supervisors told), then level 2 (managers told). Returns {"level1": n, "level2": n}. Commits once.
    """
    zone = zone or local_zone()
    if level_two_after is None:
        level_two_after = level_two_delay(session)
    first = (
        session.execute(
            select(Ticket.id).where(Ticket.status.in_(OPEN_STATUSES), Ticket.escalation_level == 0, _overdue(now))
        )
        .scalars()
        .all()
    )
    second = (
        session.execute(
            select(Ticket.id).where(
                Ticket.status.in_(OPEN_STATUSES),
                Ticket.escalation_level == 1,
                Ticket.escalated_at < now - level_two_after,
            )
        )
        .scalars()
        .all()
    )
    counts = {"level1": 0, "level2": 0}
    # what the notices show (customer, unit, building, department, assignee), loaded for all of them in
    # one query: held here, the per-ticket loads below find them in the session instead of the database
    loaded = _with_related(session, first + second)  # noqa: F841
    for level, ids in ((1, first), (2, second)):
        for ticket_id in ids:
            if _claim(session, ticket_id, level - 1, now):
                counts[f"level{level}"] += 1
                note = _("Overdue: escalated to level %(level)s.", level=level)
                session.add(TicketEvent(ticket_id=ticket_id, at=now, kind="escalated", note=str(note)))
                ticket = session.get(Ticket, ticket_id, populate_existing=True)
                notify_escalation(session, ticket, level, now, zone)
    session.commit()
    return counts


def _with_related(session, ids):
    rows = []
    for start in range(0, len(ids), 500):
        rows += (
            session.execute(
                select(Ticket)
                .where(Ticket.id.in_(ids[start : start + 500]))
                .options(
                    joinedload(Ticket.customer),
                    joinedload(Ticket.unit).joinedload(Unit.building),
                    joinedload(Ticket.department),
                    joinedload(Ticket.assignee),
                )
            )
            .scalars()
            .all()
        )
    return rows


def remaining_text(due, now):
    """'2 h 15 min left' or 'overdue by 40 min', for a due time on a ticket page."""
    if due is None:
        return ""
    minutes = int((due - now).total_seconds() // 60)
    span = abs(minutes)
    days, rest = divmod(span, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(str(_("%(n)s d", n=days)))
    if hours:
        parts.append(str(_("%(n)s h", n=hours)))
    if mins or not parts:
        parts.append(str(_("%(n)s min", n=mins)))
    text = " ".join(parts)
    return str(_("%(time)s left", time=text)) if minutes >= 0 else str(_("overdue by %(time)s", time=text))
