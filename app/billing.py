"""Money rules: a bill's paid amount and status always equal the sum of its payments."""
from decimal import Decimal

from flask_babel import lazy_gettext as _
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from app.errors import DomainError
from app.models import Bill, Payment
from app.numbering import next_number
from app.tickets import local_zone
from app.types import utcnow

ZERO = Decimal("0.00")


def bill_status(amount, paid, current=None):
    """The status a bill has for its amount and the sum paid (written-off bills stay so)."""
    if current == "written_off":
        return current
    if paid <= ZERO:
        return "unpaid"
    if paid < amount:
        return "partial"
    return "paid"


def _settle_bills(session, flush_context, instances):
    now = utcnow()
    bills = {}
    new_amounts = {}
    for item in session.new:
        if isinstance(item, Payment):
            if not item.receipt_number:
                item.receipt_number = next_number(session.connection(), "RC", now, local_zone())
            bill = item.bill or (session.get(Bill, item.bill_id) if item.bill_id else None)
            if bill is None:
                raise DomainError(_("Choose the bill this payment settles."), field="bill")
            bills[id(bill)] = bill
            new_amounts[id(bill)] = new_amounts.get(id(bill), ZERO) + Decimal(item.amount or 0)
    for item in session.dirty:
        if isinstance(item, Payment) and session.is_modified(item):
            raise DomainError(_("Payments cannot be edited; record a reversal instead."))
        if isinstance(item, Bill) and session.is_modified(item):
            bills.setdefault(id(item), item)
    for item in session.deleted:
        if isinstance(item, Payment):
            raise DomainError(_("Payments cannot be deleted; record a reversal instead."))
    for key, bill in bills.items():
        persisted = ZERO
        if bill.id is not None:
            persisted = session.execute(
                select(func.coalesce(func.sum(Payment.amount), 0)).where(Payment.bill_id == bill.id)
            ).scalar()
        paid = Decimal(persisted) + new_amounts.get(key, ZERO)
        amount = Decimal(bill.amount or 0)
        if paid > amount:
            raise DomainError(_("The payment exceeds the amount outstanding on the bill."), field="amount")
        bill.paid_amount = paid.quantize(Decimal("0.01"))
        bill.status = bill_status(amount, paid, bill.status)


def register(session_class=Session):
    if not event.contains(session_class, "before_flush", _settle_bills):
        event.listen(session_class, "before_flush", _settle_bills)
