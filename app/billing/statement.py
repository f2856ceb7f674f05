"""我的账单 as a resident reads it: their bills, what is owed and overdue, payments, orders still
waiting, a receipt and an order by number.

Every query reads through the resident's own session, which sees only their own rows
(app.policy.scoping.resident_options): a number that is someone else's is simply not found.
"""

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from app.models import Bill, Payment, PaymentOrder, Unit

OWED = ("unpaid", "partial")


@dataclass
class Statement:
    bills: list
    arrears: object
    overdue: object
    payments: list
    waiting: list


def statement(session, today, bills=200, payments=100, orders=20):
    """The newest bills, payments and orders not paid yet (of bills still owed), and the amounts
    owed and overdue on ``today``."""
    owed = Bill.status.in_(OWED)
    rows = (
        session.execute(
            select(Bill)
            .options(selectinload(Bill.unit).selectinload(Unit.building))
            .order_by(Bill.period.desc(), Bill.id.desc())
            .limit(bills)
        )
        .scalars()
        .all()
    )
    arrears, overdue = session.execute(
        select(
            func.coalesce(func.sum(Bill.outstanding), 0),
            func.coalesce(func.sum(case((Bill.due_date < today, Bill.outstanding), else_=0)), 0),
        ).where(owed)
    ).one()
    paid = session.execute(select(Payment).order_by(Payment.paid_at.desc(), Payment.id.desc()).limit(payments))
    waiting = session.execute(
        select(PaymentOrder)
        .join(Bill, Bill.id == PaymentOrder.bill_id)
        .where(PaymentOrder.status == "created", owed)
        .order_by(PaymentOrder.id.desc())
        .limit(orders)
    )
    return Statement(rows, arrears, overdue, paid.scalars().all(), waiting.scalars().all())


def payment_by_receipt(session, receipt_number):
    return session.execute(select(Payment).where(Payment.receipt_number == receipt_number)).scalar()


def order_by_trade_number(session, out_trade_no):
    return session.execute(select(PaymentOrder).where(PaymentOrder.out_trade_no == out_trade_no)).scalar()
