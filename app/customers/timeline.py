"""A customer's one timeline: tickets, communications, bills, payments and messages, newest first.

It shows what the principal may read: a source whose model they may not read is left out, the
rows follow their scope, and every field printed follows their field levels.
"""

from dataclasses import dataclass
import datetime

from flask_babel import gettext, lazy_gettext as _
from sqlalchemy import select

from app.policy.field_permissions import HIDDEN, MASKED, field_access_for, mask
from app.models import ActivitySignUp, Bill, Communication, OutboxMessage, Payment, PaymentOrder, Ticket, TicketEvent
from app.tickets.resident_requests import is_resident_submission
from app.policy.permissions import ACTION_READ
from app.core.column_types import (
    BILL_STATUSES,
    COMMUNICATION_CHANNELS,
    FEE_TYPES,
    NOTIFY_CHANNELS,
    OUTBOX_STATUSES,
    PAYMENT_KINDS,
    PAYMENT_METHODS,
    TICKET_STATUSES,
    TICKET_TYPES,
)


@dataclass
class Entry:
    at: datetime.datetime
    kind: str  # ticket, communication, bill, payment, message, activity
    title: str
    detail: str
    link: str = ""


class _Fields:
    """One model's fields as the principal may see them."""

    def __init__(self, principal, model):
        self.access = field_access_for(principal, model.__name__)

    def __call__(self, record, name, text=None):
        level = self.access.level(name)
        value = getattr(record, name) if text is None else text
        if level == HIDDEN or value is None:
            return ""
        return mask(name, str(value)) if level == MASKED else value


def customer_timeline(session, customer_id, principal, limit=100):
    """The newest ``limit`` entries about one customer that ``principal`` may read (each source read
    with its own bounded query)."""
    entries = []

    def readable(model):
        return principal.may(ACTION_READ, model.__name__)

    if readable(Ticket):
        shown = _Fields(principal, Ticket)
        for t in session.execute(
            select(Ticket).where(Ticket.customer_id == customer_id).order_by(Ticket.created_at.desc()).limit(limit)
        ).scalars():
            number = shown(t, "number")  # the work page's address is the number: no link when it is hidden
            title = f"{number} {shown(t, 'title')}"
            if is_resident_submission(t):  # sent by the resident from the portal
                title = f"{_('Resident request online: %(number)s', number=number)} {shown(t, 'title')}"
            entries.append(
                Entry(
                    t.created_at,
                    "ticket",
                    title,
                    f"{TICKET_TYPES.label(t.type)} · {TICKET_STATUSES.label(t.status)}",
                    f"/ticketwork/{t.number}" if number == t.number else "",
                )
            )
    if readable(Ticket) and readable(TicketEvent):  # reminders (催单) the resident sent from the portal
        shown = _Fields(principal, Ticket)
        for event, t in session.execute(
            select(TicketEvent, Ticket)
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(Ticket.customer_id == customer_id, TicketEvent.kind == "reminder")
            .order_by(TicketEvent.at.desc())
            .limit(limit)
        ):
            number = shown(t, "number")
            entries.append(
                Entry(
                    event.at,
                    "ticket",
                    str(_("Reminder from the resident: %(number)s", number=number)),
                    f"{shown(t, 'title')} · {TICKET_STATUSES.label(t.status)}",
                    f"/ticketwork/{t.number}" if number == t.number else "",
                )
            )
    if readable(Communication):
        shown = _Fields(principal, Communication)
        for c in session.execute(
            select(Communication)
            .where(Communication.customer_id == customer_id)
            .order_by(Communication.at.desc())
            .limit(limit)
        ).scalars():
            entries.append(
                Entry(
                    c.at,
                    "communication",
                    COMMUNICATION_CHANNELS.label(c.channel),
                    shown(c, "summary"),
                    f"/communicationview/show/{c.id}",
                )
            )
    if readable(Bill):
        shown = _Fields(principal, Bill)
        for b in session.execute(
            select(Bill).where(Bill.customer_id == customer_id).order_by(Bill.created_at.desc()).limit(limit)
        ).scalars():
            amount = shown(b, "amount", f"{b.amount:,.2f}")
            entries.append(
                Entry(
                    b.created_at,
                    "bill",
                    f"{shown(b, 'period')} {FEE_TYPES.label(b.fee_type)} {amount}",
                    BILL_STATUSES.label(b.status),
                    f"/billview/show/{b.id}",
                )
            )
    if readable(Payment):
        shown = _Fields(principal, Payment)
        payments = (
            session.execute(
                select(Payment)
                .join(Bill, Bill.id == Payment.bill_id)
                .where(Bill.customer_id == customer_id)
                .order_by(Payment.paid_at.desc())
                .limit(limit)
            )
            .scalars()
            .all()
        )
        online = set(
            session.execute(
                select(PaymentOrder.payment_id).where(PaymentOrder.payment_id.in_([p.id for p in payments]))
            ).scalars()
        )
        for p in payments:
            sign = "−" if p.kind == "reversal" else ""
            amount = shown(p, "amount", f"{sign}{p.amount:,.2f}")
            kind = PAYMENT_KINDS.label(p.kind)
            if p.id in online:  # paid by the resident through the portal
                kind = _("Online payment (%(gateway)s)", gateway=PAYMENT_METHODS.label(p.method))
            entries.append(
                Entry(
                    p.paid_at,
                    "payment",
                    f"{kind} {amount}",
                    f"{shown(p, 'receipt_number')} {shown(p, 'reason')}".strip(),
                    f"/paymentview/show/{p.id}",
                )
            )
    if readable(OutboxMessage):
        shown = _Fields(principal, OutboxMessage)
        for m in session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.customer_id == customer_id)
            .order_by(OutboxMessage.created_at.desc())
            .limit(limit)
        ).scalars():
            entries.append(
                Entry(
                    m.sent_at or m.created_at,
                    "message",
                    shown(m, "subject"),
                    f"{NOTIFY_CHANNELS.label(m.channel)} · {OUTBOX_STATUSES.label(m.status)}",
                    f"/outboxview/show/{m.id}",
                )
            )
    if readable(ActivitySignUp):
        for s in session.execute(
            select(ActivitySignUp)
            .where(ActivitySignUp.customer_id == customer_id)
            .order_by(ActivitySignUp.signed_up_at.desc())
            .limit(limit)
        ).scalars():
            link = f"/activityview/show/{s.activity_id}"
            title = str(s.activity)
            entries.append(
                Entry(s.signed_up_at, "activity", gettext("Signed up for: %(title)s", title=title), "", link)
            )
            if s.cancelled_at is not None:
                entries.append(
                    Entry(s.cancelled_at, "activity", gettext("Cancelled sign-up: %(title)s", title=title), "", link)
                )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]
