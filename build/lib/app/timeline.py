"""A customer's one timeline: tickets, communications, bills, payments and messages, newest first."""
from dataclasses import dataclass
import datetime

from sqlalchemy import select

from app.models import Bill, Communication, OutboxMessage, Payment, Ticket
from app.types import (
    BILL_STATUSES, COMMUNICATION_CHANNELS, FEE_TYPES, NOTIFY_CHANNELS, OUTBOX_STATUSES, PAYMENT_KINDS,
    TICKET_STATUSES, TICKET_TYPES,
)


@dataclass
class Entry:
    at: datetime.datetime
    kind: str  # ticket, communication, bill, payment, message
    title: str
    detail: str
    link: str = ""


def customer_timeline(session, customer_id, limit=100):
    """The newest ``limit`` entries about one customer (each source read with its own bounded query)."""
    entries = []
    for t in session.execute(select(Ticket).where(Ticket.customer_id == customer_id)
                             .order_by(Ticket.created_at.desc()).limit(limit)).scalars():
        entries.append(Entry(t.created_at, "ticket", f"{t.number} {t.title}",
                             f"{TICKET_TYPES.label(t.type)} · {TICKET_STATUSES.label(t.status)}",
                             f"/ticketwork/{t.number}"))
    for c in session.execute(select(Communication).where(Communication.customer_id == customer_id)
                             .order_by(Communication.at.desc()).limit(limit)).scalars():
        entries.append(Entry(c.at, "communication", COMMUNICATION_CHANNELS.label(c.channel), c.summary,
                             f"/communicationview/show/{c.id}"))
    for b in session.execute(select(Bill).where(Bill.customer_id == customer_id)
                             .order_by(Bill.created_at.desc()).limit(limit)).scalars():
        entries.append(Entry(b.created_at, "bill", f"{b.period} {FEE_TYPES.label(b.fee_type)} {b.amount:,.2f}",
                             BILL_STATUSES.label(b.status), f"/billview/show/{b.id}"))
    for p in session.execute(select(Payment).join(Bill, Bill.id == Payment.bill_id)
                             .where(Bill.customer_id == customer_id)
                             .order_by(Payment.paid_at.desc()).limit(limit)).scalars():
        sign = "−" if p.kind == "reversal" else ""
        entries.append(Entry(p.paid_at, "payment", f"{PAYMENT_KINDS.label(p.kind)} {sign}{p.amount:,.2f}",
                             f"{p.receipt_number} {p.reason or ''}".strip(), f"/paymentview/show/{p.id}"))
    for m in session.execute(select(OutboxMessage).where(OutboxMessage.customer_id == customer_id)
                             .order_by(OutboxMessage.created_at.desc()).limit(limit)).scalars():
        entries.append(Entry(m.sent_at or m.created_at, "message", m.subject,
                             f"{NOTIFY_CHANNELS.label(m.channel)} · {OUTBOX_STATUSES.label(m.status)}",
                             f"/outboxview/show/{m.id}"))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]
