"""Renovation (装修): application, approval, deposit, works, inspection, deposit refunded or withheld.

Status moves (each one function, each commits once):
  applied → approved (a supervisor or admin) | rejected
  approved → deposit_received → works (the unit becomes "renovating") → inspection (works finished;
  inspection due within INSPECTION_DAYS) → inspected (passed) | works (failed: put right, then again)
  inspected → refunded | withheld (part or all of the deposit, with the reason); the unit is "occupied".
The reminder job tells the responsible staff (or the supervisors) of inspections due and works past
their planned end, at most once a day per renovation (a conditional UPDATE claims the day).
"""

import datetime
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _
from sqlalchemy import or_, select, update

from app.core.errors import DomainError, NotAllowed
from app.models import Renovation, Ticket
from app.notices.notify import notify_staff
from app.policy.principal import permits, users_with_permission
from app.policy.permissions import ACTION_APPROVE, RESOURCE_RENOVATION
from app.core.column_types import RENOVATION_STATUSES, UNIT_STATUSES
from app.extensions import db

INSPECTION_DAYS = 3
DONE = ("refunded", "withheld", "rejected")


def _need(renovation, *statuses):
    if renovation.status not in statuses:
        raise DomainError(
            _("Not possible while the renovation is %(status)s.", status=RENOVATION_STATUSES.label(renovation.status))
        )


def _approver(actor):

    if not permits(db.session, actor, ACTION_APPROVE, RESOURCE_RENOVATION):
        raise NotAllowed(_("Only a supervisor or an administrator can approve renovations."))


def check_renovation(renovation):
    """The dates and amounts of an application, whoever saves it."""
    if renovation.works_start and renovation.works_end and renovation.works_end < renovation.works_start:
        raise DomainError(_("The end date cannot be before the start date."), field="works_end")
    if renovation.id is not None and renovation.status not in ("applied", "approved"):
        raise DomainError(
            _(
                "The application can no longer be changed; this renovation is %(status)s.",
                status=RENOVATION_STATUSES.label(renovation.status),
            )
        )


def _unit_status(renovation, status):
    if renovation.unit is not None and status in UNIT_STATUSES:
        renovation.unit.status = status


def approve(session, renovation, actor, now):
    _approver(actor)
    _need(renovation, "applied")
    renovation.status, renovation.approved_by_id, renovation.approved_at = "approved", actor.id, now
    session.commit()


def reject(session, renovation, actor, now):
    _approver(actor)
    _need(renovation, "applied")
    renovation.status, renovation.approved_by_id, renovation.approved_at = "rejected", actor.id, now
    session.commit()


def receive_deposit(session, renovation, now):
    _need(renovation, "approved")
    renovation.status, renovation.deposit_received_at = "deposit_received", now
    session.commit()


def start_works(session, renovation, today):
    _need(renovation, "deposit_received")
    renovation.status, renovation.started_on = "works", today
    _unit_status(renovation, "renovating")
    session.commit()


def finish_works(session, renovation, today):
    _need(renovation, "works")
    renovation.status, renovation.finished_on = "inspection", today
    renovation.inspection_due = today + datetime.timedelta(days=INSPECTION_DAYS)
    session.commit()


def inspect(session, renovation, passed, notes, now):
    """The inspection: passed, or failed (the works go on until put right)."""
    _need(renovation, "inspection")
    notes = (notes or "").strip()
    if not passed and not notes:
        raise DomainError(_("Write down what must be put right."), field="inspection_notes")
    renovation.inspected_at = now
    renovation.inspection_notes = notes or renovation.inspection_notes
    renovation.status = "inspected" if passed else "works"
    if not passed:
        renovation.inspection_due = None
    session.commit()


def refund(session, renovation, now):
    _need(renovation, "inspected")
    renovation.status, renovation.settled_at, renovation.withheld_amount = "refunded", now, None
    _unit_status(renovation, "occupied")
    session.commit()


def withhold(session, renovation, amount, reason, now):
    """Keep part or all of the deposit (damage, rules broken), with the reason."""
    _need(renovation, "inspected")
    try:
        amount = Decimal(str(amount)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise DomainError(_("Enter the amount withheld."), field="withheld_amount")
    if not Decimal("0") < amount <= (renovation.deposit or Decimal("0")):
        raise DomainError(
            _("The amount withheld must be more than 0 and at most the deposit."), field="withheld_amount"
        )
    if not (reason or "").strip():
        raise DomainError(_("Give the reason for withholding the deposit."), field="withheld_reason")
    renovation.status, renovation.settled_at = "withheld", now
    renovation.withheld_amount, renovation.withheld_reason = amount, reason.strip()[:255]
    _unit_status(renovation, "occupied")
    session.commit()


def related_tickets(session, renovation, limit=50):
    """The unit's tickets (repairs, complaints about noise …) from the application to the settlement."""
    start = renovation.created_at
    query = select(Ticket).where(Ticket.unit_id == renovation.unit_id).order_by(Ticket.created_at.desc()).limit(limit)
    if start is not None:
        query = query.where(Ticket.created_at >= start)
    if renovation.settled_at is not None:
        query = query.where(Ticket.created_at <= renovation.settled_at)
    return session.execute(query).scalars().all()


def _recipients(session, renovation):
    if renovation.responsible_id is not None:
        return [renovation.responsible_id]
    return users_with_permission(session, ACTION_APPROVE, RESOURCE_RENOVATION)


def send_reminders(session, today, now):
    """Remind of inspections due (by today) and works past their end. Returns {"inspection": n, "overrun": n}."""
    counts = {"inspection": 0, "overrun": 0}
    due = (
        session.execute(
            select(Renovation)
            .where(
                or_(
                    (Renovation.status == "inspection") & (Renovation.inspection_due <= today),
                    (Renovation.status == "works") & (Renovation.works_end < today),
                )
            )
            .where(or_(Renovation.last_reminded_on.is_(None), Renovation.last_reminded_on < today))
            .order_by(Renovation.id)
        )
        .scalars()
        .all()
    )
    for renovation in due:
        claimed = session.execute(
            update(Renovation)
            .where(
                Renovation.id == renovation.id,
                or_(Renovation.last_reminded_on.is_(None), Renovation.last_reminded_on < today),
            )
            .values(last_reminded_on=today)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            continue
        values = {
            "unit": str(renovation.unit),
            "customer_name": renovation.customer.name if renovation.customer else "",
            "contractor": renovation.contractor or "",
            "works_end": renovation.works_end.isoformat(),
            "inspection_due": renovation.inspection_due.isoformat() if renovation.inspection_due else "",
            "days_over": (today - renovation.works_end).days,
        }
        kind = "inspection" if renovation.status == "inspection" else "overrun"
        key = "renovation_inspection_due" if kind == "inspection" else "renovation_overrun"
        notify_staff(
            session, _recipients(session, renovation), key, values, f"/renovationview/show/{renovation.id}", now
        )
        counts[kind] += 1
    session.commit()
    return counts
