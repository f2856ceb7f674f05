"""Bills, payments, fee rules, meter readings, bill generation runs and write-offs."""

from decimal import Decimal

from flask_appbuilder.models.sqla import Model
from flask_babel import lazy_gettext as _
from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import backref, relationship

from app.core.column_types import (
    APPROVAL_STATUSES,
    BILL_STATUSES,
    BILL_TO,
    BILLING_RUN_STATUSES,
    FEE_METHODS,
    PAYMENT_KINDS,
    PAYMENT_ORDER_STATUSES,
    NOTIFICATION_OUTCOMES,
    FEE_TYPES,
    PAYMENT_METHODS,
    UNIT_USES,
    UTCDateTime,
    utcnow,
)
from app.core.model_base import Money, Stamped, choice_column


class Bill(Stamped, Model):
    __audited__ = True
    __tablename__ = "bill"
    __table_args__ = (
        UniqueConstraint(
            "unit_id",
            "period",
            "fee_type",
            name="uq_bill_unit_period_fee",
            info={"field": "fee_type", "message": _("This unit already has a bill of this fee type for the period.")},
        ),
        CheckConstraint("amount >= 0", name="ck_bill_amount"),
        CheckConstraint("paid_amount >= 0", name="ck_bill_paid_amount"),
        # outstanding bills by status and due date, with what arrears figures add up (index-only reads)
        Index("ix_bill_outstanding", "status", "due_date", "unit_id", "amount", "paid_amount", "written_off_amount"),
        Index("ix_bill_period", "period"),  # collection figures per month
        Index("ix_bill_due_date", "due_date", "id"),  # the bill list's order
    )
    __display_relations__ = ("customer", "unit", "unit.building")
    __lookup__ = ("period", "customer.name", "customer.phone")

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="RESTRICT"), nullable=False, index=True)
    customer = relationship("Customer", backref="bills")
    unit_id = Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False, index=True)
    unit = relationship("Unit", backref="bills")
    period = Column(String(7), nullable=False, info={"check": "period"})
    fee_type = choice_column(FEE_TYPES, default="property")
    amount = Column(Money, nullable=False, info={"check": "non_negative"})
    # Maintained by app.billing.bills from the payments and approved write-offs; never edited by hand.
    paid_amount = Column(Money, nullable=False, default=Decimal("0.00"))
    written_off_amount = Column(Money, nullable=False, default=Decimal("0.00"), server_default="0")
    due_date = Column(Date, nullable=False)
    status = choice_column(BILL_STATUSES, default="unpaid")
    notes = Column(Text)

    payments = relationship("Payment", back_populates="bill", passive_deletes="all")

    # what is still owed: the one rule, on a bill in Python and in SQL (sums, filters, reminders, arrears)
    @hybrid_property
    def outstanding(self):
        return (
            (self.amount or Decimal("0"))
            - (self.paid_amount or Decimal("0"))
            - (self.written_off_amount or Decimal("0"))
        )

    @outstanding.inplace.expression
    @classmethod
    def _outstanding_expression(cls):
        # the three columns are NOT NULL: no COALESCE, so the bill indexes still cover the sums
        return cls.amount - cls.paid_amount - cls.written_off_amount

    __str_fields__ = ("period", "amount", "customer")  # what __str__ prints: a relation shows them

    def __str__(self):
        return f"{self.period} {FEE_TYPES.label(self.fee_type)} {self.amount} ({self.customer or ''})"


class ArrearsSummary(Model):
    """Outstanding amounts of unpaid and part-paid bills per building and due date.

    Kept by database triggers on bill and unit (migration 2eab9ebc9d4b), so every path that
    changes a bill keeps it right: pages, API, settlement in SQL, bill generation, bulk loads.
    Arrears by building then sum a few rows per building instead of every outstanding bill.
    """

    __audited__ = True

    __tablename__ = "arrears_summary"

    building_id = Column(Integer, ForeignKey("building.id", ondelete="CASCADE"), primary_key=True)
    due_date = Column(Date, primary_key=True)
    outstanding = Column(Money, nullable=False, default=Decimal("0.00"))


class Payment(Model):
    """Money received for a bill, or the reversal of such a payment (same amount, with a reason)."""

    __audited__ = True

    __tablename__ = "payment"
    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_payment_amount"),
        UniqueConstraint("reverses_id", name="uq_payment_reverses_id"),
        Index("ix_payment_paid_at", "paid_at", "id"),
    )  # the payment list's order
    __display_relations__ = ("bill", "bill.customer")

    id = Column(Integer, primary_key=True)
    bill_id = Column(Integer, ForeignKey("bill.id", ondelete="RESTRICT"), nullable=False, index=True)
    bill = relationship("Bill", back_populates="payments")
    amount = Column(Money, nullable=False, info={"check": "positive"})
    method = choice_column(PAYMENT_METHODS, default="wechat")
    paid_at = Column(UTCDateTime, nullable=False, default=utcnow)
    receipt_number = Column(String(24), unique=True, nullable=False)
    notes = Column(String(255))
    kind = Column(
        String(20), nullable=False, default="payment", server_default="payment", info={"choices": PAYMENT_KINDS}
    )
    # a reversal names the payment it takes back (each payment at most once) and why
    reverses_id = Column(Integer, ForeignKey("payment.id", ondelete="RESTRICT", name="fk_payment_reverses_id"))
    reverses = relationship("Payment", remote_side=[id], backref=backref("reversal", uselist=False))
    reason = Column(String(255))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    created_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    created_by = relationship("User")

    def __str__(self):
        return self.receipt_number or ""


class FeeRule(Stamped, Model):
    """How a fee is charged: per m² per month, fixed per unit, or metered; a building's own rule
    overrides the general one, and the newest rule in effect for the period applies."""

    __audited__ = True

    __tablename__ = "fee_rule"
    __table_args__ = (
        CheckConstraint("price >= 0", name="ck_fee_rule_price"),
        CheckConstraint("due_day >= 1 AND due_day <= 28", name="ck_fee_rule_due_day"),
    )
    __display_relations__ = ("building",)

    id = Column(Integer, primary_key=True)
    name = Column(String(50), nullable=False)
    fee_type = choice_column(FEE_TYPES, default="property")
    method = choice_column(FEE_METHODS, default="per_area")
    price = Column(Numeric(12, 4), nullable=False, info={"check": "non_negative"})
    # metered only, optional: "20:3.50, 40:4.20, :5.00" — up to 20 at 3.50, up to 40 at 4.20, beyond at 5.00
    tiers = Column(String(200), info={"check": "tiers"})
    building_id = Column(Integer, ForeignKey("building.id", ondelete="CASCADE"), index=True)
    building = relationship("Building")
    unit_use = choice_column(UNIT_USES, nullable=True)
    bill_to = choice_column(BILL_TO, default="occupant")
    effective_from = Column(Date, nullable=False)
    effective_to = Column(Date)
    due_day = Column(Integer, nullable=False, default=15)

    def __str__(self):
        return self.name or ""


class MeterReading(Stamped, Model):
    """A water or electricity meter reading of a unit for a period; use = reading − previous."""

    __audited__ = True

    __tablename__ = "meter_reading"
    __table_args__ = (
        UniqueConstraint(
            "unit_id",
            "fee_type",
            "period",
            name="uq_meter_reading",
            info={"field": "period", "message": _("This unit already has a reading for the period.")},
        ),
        CheckConstraint("reading >= previous_reading", name="ck_meter_reading_order"),
    )
    __display_relations__ = ("unit", "unit.building")

    id = Column(Integer, primary_key=True)
    unit_id = Column(Integer, ForeignKey("unit.id", ondelete="CASCADE"), nullable=False, index=True)
    unit = relationship("Unit")
    fee_type = choice_column(FEE_TYPES, default="water")
    period = Column(String(7), nullable=False, info={"check": "period"})
    previous_reading = Column(Numeric(12, 2), nullable=False, default=Decimal("0"), info={"check": "non_negative"})
    reading = Column(Numeric(12, 2), nullable=False, info={"check": "non_negative"})

    @property
    def usage(self):
        return (self.reading or Decimal("0")) - (self.previous_reading or Decimal("0"))

    __str_fields__ = ("period", "reading")  # what __str__ prints: a relation shows them

    def __str__(self):
        return f"{self.period} {FEE_TYPES.label(self.fee_type)} {self.reading}"


class BillingRun(Model):
    """What one bill generation for a period did: bills created, already there, and problems found."""

    __audited__ = False  # a log of its own, a counter or machine bookkeeping: not a business record

    __tablename__ = "billing_run"

    id = Column(Integer, primary_key=True)
    period = Column(String(7), nullable=False, index=True)
    status = choice_column(BILLING_RUN_STATUSES, default="running")
    started_at = Column(UTCDateTime, nullable=False, default=utcnow)
    finished_at = Column(UTCDateTime)
    created = Column(Integer, nullable=False, default=0)
    existing = Column(Integer, nullable=False, default=0)
    problem_count = Column(Integer, nullable=False, default=0)
    problems = Column(Text)  # one line per unit/rule that could not be billed
    actor_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    actor = relationship("User")

    def __str__(self):
        return f"{self.period} #{self.id}"


class WriteOff(Model):
    """A request to write off (核销) part or all of a bill's outstanding amount, decided by a supervisor."""

    __audited__ = True

    __tablename__ = "write_off"
    __table_args__ = (CheckConstraint("amount > 0", name="ck_write_off_amount"),)
    __display_relations__ = ("bill", "bill.customer", "requested_by", "decided_by")

    id = Column(Integer, primary_key=True)
    bill_id = Column(Integer, ForeignKey("bill.id", ondelete="RESTRICT"), nullable=False, index=True)
    bill = relationship("Bill", backref="write_offs")
    amount = Column(Money, nullable=False, info={"check": "positive"})
    reason = Column(String(255), nullable=False)
    status = choice_column(APPROVAL_STATUSES, default="pending")
    requested_at = Column(UTCDateTime, nullable=False, default=utcnow)
    requested_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    requested_by = relationship("User", foreign_keys=[requested_by_id])
    decided_at = Column(UTCDateTime)
    decided_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    decided_by = relationship("User", foreign_keys=[decided_by_id])

    def __str__(self):
        return f"{self.bill} −{self.amount}"


class PaymentOrder(Model):
    """An online payment of one bill by its resident: created when they press 缴费, paid once when the
    gateway's signed notification arrives (the Payment it recorded is named), refunded on reversal."""

    __audited__ = True

    __tablename__ = "payment_order"
    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_payment_order_amount"),
        Index("ix_payment_order_bill", "bill_id", "status"),
    )
    __display_relations__ = ("bill", "customer")

    id = Column(Integer, primary_key=True)
    out_trade_no = Column(String(32), nullable=False, unique=True)
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="RESTRICT"), nullable=False, index=True)
    customer = relationship("Customer")
    bill_id = Column(Integer, ForeignKey("bill.id", ondelete="RESTRICT"), nullable=False)
    bill = relationship("Bill")
    amount = Column(Money, nullable=False)
    status = choice_column(PAYMENT_ORDER_STATUSES, default="created")
    gateway = Column(String(20), nullable=False)
    transaction_id = Column(String(64))
    payment_id = Column(Integer, ForeignKey("payment.id", ondelete="RESTRICT", name="fk_payment_order_payment"))
    payment = relationship("Payment", backref=backref("online_order", uselist=False))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    paid_at = Column(UTCDateTime)
    notified_count = Column(Integer, nullable=False, default=0, server_default="0")
    refunded_amount = Column(Money, nullable=False, default=Decimal("0.00"), server_default="0")
    refund_id = Column(String(64))
    refund_status = Column(String(20))
    refunded_at = Column(UTCDateTime)

    def __str__(self):
        return self.out_trade_no or ""


class PaymentNotification(Model):
    """Every notification a payment gateway sent: accepted, a replay, or refused and why."""

    __audited__ = False  # a log of its own: machine bookkeeping, not a business record

    __tablename__ = "payment_notification"

    id = Column(Integer, primary_key=True)
    gateway = Column(String(20), nullable=False)
    received_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    out_trade_no = Column(String(64))
    outcome = choice_column(NOTIFICATION_OUTCOMES, default="refused")
    reason = Column(String(255))
    remote_addr = Column(String(64))

    def __str__(self):
        return f"{self.gateway} {self.out_trade_no or ''} {self.outcome}"
