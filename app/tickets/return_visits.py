"""Return visits (回访): which finished requests get a call, and what an unhappy answer does.

- A rule per ticket type says "every request" (every_nth = 1) or "about one in N": a ticket is in
  the sample when a hash of its number falls on 0 modulo N — random-looking, and the same ticket
  is always in or out, whenever and however often the job runs.
- The job creates a visit for each sampled ticket resolved at least ``delay_hours`` ago (the
  visit row is unique per ticket, so running it twice creates nothing twice).
- The result: reached or not; when reached and the customer is not satisfied, a ticket still
  resolved is reopened, and a closed one is escalated (level up, its supervisors told).
"""

import datetime
import hashlib

from flask_babel import lazy_gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.core.people import person_name
from app.core.errors import DomainError
from app.models import ReturnVisit, ReturnVisitRule, Ticket, TicketEvent
from app.core.column_types import VISIT_RESULTS
from app.notices.notify import escalation_recipients, notify_staff
from app.tickets.sla import escalate

FINISHED = ("resolved", "closed")
LOOKBACK = datetime.timedelta(days=60)  # tickets resolved longer ago than this are no longer visited


def in_sample(ticket_number, every_nth):
    """True for about one ticket in ``every_nth``, always the same ones (a hash of the number)."""
    if every_nth <= 1:
        return True
    digest = hashlib.sha256(f"return-visit:{ticket_number}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % every_nth == 0


def create_visits(session, now):
    """Create the visits that are due: sampled, finished tickets past their rule's delay. Returns how many."""
    created = 0
    rules = session.execute(select(ReturnVisitRule).where(ReturnVisitRule.active.is_(True))).scalars().all()
    for rule in rules:
        cutoff = now - datetime.timedelta(hours=rule.delay_hours)
        tickets = (
            session.execute(
                select(Ticket)
                .where(
                    Ticket.type == rule.ticket_type,
                    Ticket.status.in_(FINISHED),
                    Ticket.resolved_at <= cutoff,
                    Ticket.resolved_at > now - LOOKBACK,
                    ~Ticket.id.in_(select(ReturnVisit.ticket_id)),
                )
                .order_by(Ticket.id)
            )
            .scalars()
            .all()
        )
        for ticket in tickets:
            if not in_sample(ticket.number, rule.every_nth):
                continue
            try:
                with session.begin_nested():
                    session.add(
                        ReturnVisit(
                            ticket_id=ticket.id,
                            customer_id=ticket.customer_id,
                            script=rule.script,
                            due_at=ticket.resolved_at + datetime.timedelta(hours=rule.delay_hours),
                            status="pending",
                            created_at=now,
                            updated_at=now,
                        )
                    )
            except IntegrityError:  # another run created it a moment ago
                continue
            created += 1
    session.commit()
    return created


def check_result(visit):
    if visit.result not in VISIT_RESULTS:
        raise DomainError(_("Say whether the customer was reached."), field="result")
    if visit.result == "reached" and visit.satisfied is None:
        raise DomainError(_("Say whether the customer is satisfied."), field="satisfied")
    if visit.result == "not_reached":
        visit.satisfied = None


def apply_result(session, visit, actor_id, now):
    """Check and apply a recorded result (in the caller's transaction): the visit is done, and an
    unsatisfied customer reopens (resolved) or escalates (closed) the ticket."""

    check_result(visit)
    visit.status, visit.visited_at, visit.visited_by_id = "done", now, actor_id
    ticket = visit.ticket
    if visit.result != "reached" or visit.satisfied:
        return None
    note = str(_("Return visit: the customer is not satisfied.")) + (f"\n{visit.notes}" if visit.notes else "")
    if ticket.status == "resolved":
        ticket.status = "reopened"
        session.add(TicketEvent(ticket=ticket, at=now, actor_id=actor_id, kind="note", note=note))
        outcome = "reopened"
    else:
        # as the overdue sweep escalates: level 1 raises the priority and tells the supervisors,
        # level 2 and beyond tell the managers
        escalate(session, ticket, now, note, actor_id)
        outcome = "escalated"
    from flask_appbuilder.security.sqla.models import User

    visitor = session.get(User, actor_id) if actor_id else None
    values = {
        "ticket_number": ticket.number,
        "title": ticket.title,
        "customer_name": ticket.customer.name if ticket.customer else "",
        "result": VISIT_RESULTS.label(visit.result),
        "notes": visit.notes or "",
        "visited_by": person_name(visitor) if visitor else "",
    }
    level = 2 if outcome == "escalated" and ticket.escalation_level >= 2 else 1
    notify_staff(
        session,
        escalation_recipients(session, ticket, level),
        "return_visit_unsatisfied",
        values,
        f"/ticketwork/{ticket.number}",
        now,
    )
    return outcome


def record_result(session, visit, result, satisfied, notes, actor_id, now):
    """The service desk records the call. A visit is recorded once. Commits; returns the ticket's outcome."""
    if visit.status == "done":
        raise DomainError(_("This return visit has already been recorded."))
    visit.result, visit.satisfied, visit.notes = result, satisfied, (notes or "").strip() or None
    try:
        outcome = apply_result(session, visit, actor_id, now)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return outcome
