"""The declarative data model: the source of truth for pages, API, filters and exports.

Column ``info`` carries what the generated UI derives from the model:
``choices`` (a Choices set), ``check`` (a rule in app.validation).
``__display_relations__`` names the relations ``__str__`` reads, so list pages eager-load them.
"""
from decimal import Decimal

from flask_appbuilder.models.mixins import FileColumn
from flask_appbuilder.models.sqla import Model
from flask_babel import lazy_gettext as _
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import backref, column_property, relationship
from sqlalchemy.sql.expression import false

from app.types import (
    APPROVAL_STATUSES,
    BILL_STATUSES,
    BILL_TO,
    BILLING_RUN_STATUSES,
    BROADCAST_STATUSES,
    CHANGE_ACTIONS,
    JOB_STATUSES,
    FEE_METHODS,
    PAYMENT_KINDS,
    COMMUNICATION_CHANNELS,
    CUSTOMER_STATUSES,
    CUSTOMER_TYPES,
    FEE_TYPES,
    GENDERS,
    NOTIFY_CHANNELS,
    OUTBOX_STATUSES,
    TEMPLATE_KEYS,
    PAYMENT_METHODS,
    PRIORITIES,
    RATING_SOURCES,
    RESIDENT_RELATIONS,
    TICKET_CHANNELS,
    TICKET_EVENT_KINDS,
    TICKET_STATUSES,
    TICKET_TYPES,
    UNIT_STATUSES,
    UNIT_USES,
    UTCDateTime,
    utcnow,
)

Money = Numeric(12, 2, asdecimal=True)
# FAB's FileColumn is a stateless String; saying so lets SQLAlchemy cache statements that use it
FileColumn.cache_ok = True


def choice_column(choices, default=None, nullable=False, length=20):
    return Column(
        String(length), nullable=nullable, default=default, info={"choices": choices}
    )


class Stamped:
    """Who created/changed a record and when (UTC), filled by app.audit on every path."""

    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


class Building(Stamped, Model):
    __tablename__ = "building"

    id = Column(Integer, primary_key=True)
    code = Column(String(20), unique=True, nullable=False)
    name = Column(String(100), unique=True, nullable=False)
    address = Column(String(255))
    floors = Column(Integer, CheckConstraint("floors IS NULL OR floors > 0", name="ck_building_floors"))
    notes = Column(Text)

    def __str__(self):
        return self.name or ""


class Unit(Stamped, Model):
    __tablename__ = "unit"
    __table_args__ = (
        UniqueConstraint(
            "building_id",
            "number",
            name="uq_unit_building_number",
            info={"field": "number", "message": _("This unit number already exists in the building.")},
        ),
        CheckConstraint("area IS NULL OR area >= 0", name="ck_unit_area"),
    )
    __display_relations__ = ("building",)
    __lookup__ = ("number", "building.name")

    id = Column(Integer, primary_key=True)
    building_id = Column(Integer, ForeignKey("building.id", ondelete="RESTRICT"), nullable=False, index=True)
    building = relationship("Building", back_populates="units")
    number = Column(String(20), nullable=False)
    floor = Column(Integer)
    area = Column(Numeric(10, 2), info={"check": "non_negative"})
    layout = Column(String(30))
    use = choice_column(UNIT_USES, default="residential")
    status = choice_column(UNIT_STATUSES, default="vacant")
    notes = Column(Text)

    residents = relationship("CustomerUnit", back_populates="unit", cascade="all, delete-orphan")

    def __str__(self):
        building = self.building.name if self.building else ""
        return f"{building}-{self.number}"


Building.units = relationship("Unit", back_populates="building", passive_deletes="all")

customer_tag = Table(
    "customer_tag",
    Model.metadata,
    Column("customer_id", Integer, ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", Integer, ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Tag(Stamped, Model):
    __tablename__ = "tag"

    id = Column(Integer, primary_key=True)
    name = Column(String(50), unique=True, nullable=False)
    color = Column(String(7), nullable=False, default="#1f77b4", info={"check": "color"})
    description = Column(String(255))

    def __str__(self):
        return self.name or ""


class Customer(Stamped, Model):
    __tablename__ = "customer"
    __lookup__ = ("name", "phone")

    id = Column(Integer, primary_key=True)
    name = Column(String(50), nullable=False, index=True)
    gender = choice_column(GENDERS, default="unknown")
    birthday = Column(Date)
    phone = Column(String(20), unique=True, nullable=False, info={"check": "phone"})
    email = Column(String(120), info={"check": "email"})
    id_number = Column(String(18), info={"check": "id_number"})
    occupation = Column(String(50))
    type = choice_column(CUSTOMER_TYPES, default="owner")
    status = choice_column(CUSTOMER_STATUSES, default="active")
    notes = Column(Text)
    # notices go out on the preferred channel first, then down the configured fallback order
    preferred_channel = Column(String(20), nullable=False, default="sms", server_default="sms",
                               info={"choices": NOTIFY_CHANNELS})
    wechat_openid = Column(String(64))
    last_reminded_at = Column(UTCDateTime)  # payment reminders: at most one per configured interval

    tags = relationship("Tag", secondary=customer_tag, backref="customers", order_by="Tag.name")
    units = relationship("CustomerUnit", back_populates="customer", cascade="all, delete-orphan")

    # shown beside the name in searchable selects (subject to field permissions); never in __str__,
    # which appears wherever a customer is referenced
    __lookup_detail__ = "phone"

    def __str__(self):
        return self.name or ""


class CustomerUnit(Model):
    """A customer's tie to a unit: owner, tenant or family member, with move-in/out dates."""

    __tablename__ = "customer_unit"
    __table_args__ = (
        UniqueConstraint(
            "customer_id",
            "unit_id",
            name="uq_customer_unit",
            info={"field": "unit", "message": _("This customer is already linked to this unit.")},
        ),
        CheckConstraint("move_out IS NULL OR move_in IS NULL OR move_out >= move_in", name="ck_customer_unit_dates"),
    )
    __display_relations__ = ("customer", "unit", "unit.building")

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True)
    customer = relationship("Customer", back_populates="units")
    unit_id = Column(Integer, ForeignKey("unit.id", ondelete="CASCADE"), nullable=False, index=True)
    unit = relationship("Unit", back_populates="residents")
    relation = choice_column(RESIDENT_RELATIONS, default="owner")
    move_in = Column(Date)
    move_out = Column(Date)

    def __str__(self):
        return f"{self.unit} ({RESIDENT_RELATIONS.label(self.relation)})"


class Department(Stamped, Model):
    __tablename__ = "department"

    id = Column(Integer, primary_key=True)
    name = Column(String(50), unique=True, nullable=False)
    phone = Column(String(20), info={"check": "phone"})
    description = Column(String(255))

    def __str__(self):
        return self.name or ""


staff_building = Table(
    "staff_building",
    Model.metadata,
    Column("staff_profile_id", Integer, ForeignKey("staff_profile.id", ondelete="CASCADE"), primary_key=True),
    Column("building_id", Integer, ForeignKey("building.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class StaffProfile(Stamped, Model):
    """What the CRM knows of a staff account beyond FAB's User: department, duty, load limit."""

    __tablename__ = "staff_profile"
    __table_args__ = (CheckConstraint("max_open_tickets >= 0", name="ck_staff_max_open"),)
    __display_relations__ = ("user", "department")

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), unique=True, nullable=False)
    user = relationship("User")
    department_id = Column(Integer, ForeignKey("department.id", ondelete="RESTRICT"), index=True)
    department = relationship("Department", backref="staff")
    phone = Column(String(20), info={"check": "phone"})
    on_duty = Column(Boolean, nullable=False, default=True)
    on_leave = Column(Boolean, nullable=False, default=False, server_default=false())
    max_open_tickets = Column(Integer, nullable=False, default=10)
    # ties in dispatch go to whoever was assigned least recently
    last_assigned_at = Column(UTCDateTime)
    # the buildings this person covers; none means every building
    buildings = relationship("Building", secondary=staff_building, order_by="Building.code")

    def __str__(self):
        return str(self.user) if self.user else ""


communication_ticket = Table(
    "communication_ticket",
    Model.metadata,
    Column("communication_id", Integer, ForeignKey("communication.id", ondelete="CASCADE"), primary_key=True),
    Column("ticket_id", Integer, ForeignKey("ticket.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Ticket(Stamped, Model):
    """A service request / work order (诉求/工单)."""

    __tablename__ = "ticket"
    __lookup__ = ("number", "title")
    __table_args__ = (
        Index("ix_ticket_status_deadline", "status", "deadline"),
        Index("ix_ticket_assignee_status", "assignee_id", "status"),
    )
    __display_relations__ = ("customer", "unit", "unit.building", "department", "assignee")

    id = Column(Integer, primary_key=True)
    number = Column(String(20), unique=True, nullable=False)
    title = Column(String(200), nullable=False)
    type = choice_column(TICKET_TYPES, default="repair")
    priority = choice_column(PRIORITIES, default="medium")
    # active_history: the lifecycle rule needs the old value even when it was not loaded
    status = column_property(choice_column(TICKET_STATUSES, default="new"), active_history=True)
    channel = choice_column(TICKET_CHANNELS, default="phone")
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="RESTRICT"), index=True)
    customer = relationship("Customer", backref="tickets")
    unit_id = Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), index=True)
    unit = relationship("Unit", backref="tickets")
    department_id = Column(Integer, ForeignKey("department.id", ondelete="RESTRICT"), index=True)
    department = relationship("Department", backref="tickets")
    assignee_id = column_property(Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL")),
                                  active_history=True)
    assignee = relationship("User", foreign_keys=[assignee_id], active_history=True)
    deadline = Column(UTCDateTime)
    description = Column(Text)
    resolution = Column(Text)  # the handler's result note, required to resolve
    # SLA: due times computed at creation from the SLA policy; the sweep only compares them
    response_due = Column(UTCDateTime)
    resolution_due = Column(UTCDateTime)
    responded_at = Column(UTCDateTime)
    resolved_at = Column(UTCDateTime)
    closed_at = Column(UTCDateTime)
    escalation_level = Column(Integer, nullable=False, default=0, server_default="0")
    escalated_at = Column(UTCDateTime)
    created_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    created_by = relationship("User", foreign_keys=[created_by_id])
    updated_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    updated_by = relationship("User", foreign_keys=[updated_by_id])

    events = relationship(
        "TicketEvent", back_populates="ticket", order_by="TicketEvent.id", passive_deletes="all"
    )
    attachments = relationship("TicketAttachment", back_populates="ticket", cascade="all, delete-orphan")

    # not stored: the reason given with a reassignment, written to the ticket's history
    reassign_reason = None
    # the searchable select: a customer's tickets (?customer_id=), open ones first, then the newest
    __lookup_filters__ = ("customer_id",)

    @classmethod
    def lookup_order(cls):
        from sqlalchemy import case

        open_first = case((cls.status.in_(("new", "assigned", "in_progress", "reopened")), 0), else_=1)
        return open_first, cls.created_at.desc(), cls.id.desc()

    def __str__(self):
        return f"{self.number} {self.title}" if self.number else (self.title or "")


class TicketAttachment(Model):
    __tablename__ = "ticket_attachment"
    __display_relations__ = ("ticket",)

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("ticket.id", ondelete="CASCADE"), nullable=False, index=True)
    ticket = relationship("Ticket", back_populates="attachments")
    file = Column(FileColumn, nullable=False)
    description = Column(String(200))
    uploaded_at = Column(UTCDateTime, nullable=False, default=utcnow)

    def __str__(self):
        return self.description or str(self.file)


class TicketEvent(Model):
    """Append-only log of a ticket's life: rows are written by app.tickets, never edited."""

    __tablename__ = "ticket_event"
    __display_relations__ = ("ticket", "actor")

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("ticket.id", ondelete="RESTRICT"), nullable=False, index=True)
    ticket = relationship("Ticket", back_populates="events")
    at = Column(UTCDateTime, nullable=False, default=utcnow)
    actor_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    actor = relationship("User")
    kind = choice_column(TICKET_EVENT_KINDS, default="note")
    from_status = choice_column(TICKET_STATUSES, nullable=True)
    to_status = choice_column(TICKET_STATUSES, nullable=True)
    note = Column(Text)
    attachment = Column(FileColumn)

    def __str__(self):
        return f"{self.ticket_id}#{self.id} {self.kind}"


class Communication(Stamped, Model):
    """A record of contact with a customer (沟通记录)."""

    __tablename__ = "communication"
    __display_relations__ = ("customer", "staff")

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="RESTRICT"), nullable=False, index=True)
    customer = relationship("Customer", backref="communications")
    at = Column(UTCDateTime, nullable=False, default=utcnow)
    channel = choice_column(COMMUNICATION_CHANNELS, default="phone")
    summary = Column(Text, nullable=False)
    attachment = Column(FileColumn)
    staff_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    staff = relationship("User")
    tickets = relationship("Ticket", secondary=communication_ticket, backref="communications")

    def __str__(self):
        return (self.summary or "")[:30]


class Bill(Stamped, Model):
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
        Index("ix_bill_status_due", "status", "due_date"),
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
    # Maintained by app.billing from the payments and approved write-offs; never edited by hand.
    paid_amount = Column(Money, nullable=False, default=Decimal("0.00"))
    written_off_amount = Column(Money, nullable=False, default=Decimal("0.00"), server_default="0")
    due_date = Column(Date, nullable=False)
    status = choice_column(BILL_STATUSES, default="unpaid")
    notes = Column(Text)

    payments = relationship("Payment", back_populates="bill", passive_deletes="all")

    @property
    def outstanding(self):
        return ((self.amount or Decimal("0")) - (self.paid_amount or Decimal("0"))
                - (self.written_off_amount or Decimal("0")))

    def __str__(self):
        return f"{self.period} {FEE_TYPES.label(self.fee_type)} {self.amount} ({self.customer or ''})"


class Payment(Model):
    """Money received for a bill, or the reversal of such a payment (same amount, with a reason)."""

    __tablename__ = "payment"
    __table_args__ = (CheckConstraint("amount > 0", name="ck_payment_amount"),
                      UniqueConstraint("reverses_id", name="uq_payment_reverses_id"))
    __display_relations__ = ("bill", "bill.customer")

    id = Column(Integer, primary_key=True)
    bill_id = Column(Integer, ForeignKey("bill.id", ondelete="RESTRICT"), nullable=False, index=True)
    bill = relationship("Bill", back_populates="payments")
    amount = Column(Money, nullable=False, info={"check": "positive"})
    method = choice_column(PAYMENT_METHODS, default="wechat")
    paid_at = Column(UTCDateTime, nullable=False, default=utcnow)
    receipt_number = Column(String(24), unique=True, nullable=False)
    notes = Column(String(255))
    kind = Column(String(20), nullable=False, default="payment", server_default="payment",
                  info={"choices": PAYMENT_KINDS})
    # a reversal names the payment it takes back (each payment at most once) and why
    reverses_id = Column(Integer, ForeignKey("payment.id", ondelete="RESTRICT", name="fk_payment_reverses_id"))
    reverses = relationship("Payment", remote_side=[id], backref=backref("reversal", uselist=False))
    reason = Column(String(255))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    created_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    created_by = relationship("User")

    def __str__(self):
        return self.receipt_number or ""


class NumberSequence(Model):
    """Daily counters behind ticket and receipt numbers (WO202611220001)."""

    __tablename__ = "number_sequence"

    key = Column(String(40), primary_key=True)
    value = Column(Integer, nullable=False, default=0)


class ExportLog(Model):
    """One row per Excel export: who exported which list, with which filters, how many rows."""

    __tablename__ = "export_log"
    __display_relations__ = ("user",)

    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    user = relationship("User")
    resource = Column(String(50), nullable=False)
    query = Column(Text)
    rows = Column(Integer, nullable=False, default=0)

    def __str__(self):
        return f"{self.resource} {self.rows}"


class ExportJob(Model):
    """An export too large for a request: built by the scheduler, then offered to its owner only."""

    __tablename__ = "export_job"

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False, index=True)
    user = relationship("User")
    view = Column(String(60), nullable=False)  # the list page's endpoint, e.g. CustomerView
    title = Column(String(100))
    query = Column(Text, nullable=False, default="")
    status = choice_column(JOB_STATUSES, default="queued")
    rows = Column(Integer)
    file_name = Column(String(100))  # under instance/exports, a random name
    error = Column(Text)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    finished_at = Column(UTCDateTime)

    def __str__(self):
        return self.title or self.view


class FieldPermission(Model):
    """A role's access to one field of one model; no row means editable."""

    __tablename__ = "field_permission"
    __table_args__ = (UniqueConstraint("role_id", "resource", "field", name="uq_field_permission"),)

    id = Column(Integer, primary_key=True)
    role_id = Column(Integer, ForeignKey("ab_role.id", ondelete="CASCADE"), nullable=False, index=True)
    role = relationship("Role")
    resource = Column(String(50), nullable=False)
    field = Column(String(50), nullable=False)
    level = Column(String(10), nullable=False)

    def __str__(self):
        return f"{self.resource}.{self.field}: {self.level}"


class SavedListView(Model):
    """A named list view (filters, search, order) a user saved, optionally shared with a role."""

    __tablename__ = "saved_list_view"
    __table_args__ = (UniqueConstraint("owner_id", "view", "name", name="uq_saved_list_view"),)

    id = Column(Integer, primary_key=True)
    name = Column(String(60), nullable=False)
    view = Column(String(60), nullable=False, index=True)  # the list page's endpoint, e.g. CustomerView
    query = Column(Text, nullable=False, default="")
    owner_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False)
    owner = relationship("User")
    shared_role_id = Column(Integer, ForeignKey("ab_role.id", ondelete="SET NULL"))
    shared_role = relationship("Role")
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)

    def __str__(self):
        return self.name or ""


class DispatchRule(Stamped, Model):
    """Which department a new ticket goes to: by type, optionally narrowed by building or unit use."""

    __tablename__ = "dispatch_rule"
    __display_relations__ = ("building", "department")

    id = Column(Integer, primary_key=True)
    ticket_type = choice_column(TICKET_TYPES, default="repair")
    building_id = Column(Integer, ForeignKey("building.id", ondelete="CASCADE"))
    building = relationship("Building")
    unit_use = choice_column(UNIT_USES, nullable=True)
    department_id = Column(Integer, ForeignKey("department.id", ondelete="CASCADE"), nullable=False)
    department = relationship("Department")

    def __str__(self):
        return f"{TICKET_TYPES.label(self.ticket_type)} → {self.department or ''}"


class DutyShift(Model):
    """A weekly shift of a staff member (weekday 0 = Monday), in local time."""

    __tablename__ = "duty_shift"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="ck_duty_shift_weekday"),
        CheckConstraint("end_minute > start_minute", name="ck_duty_shift_span"),
    )
    __display_relations__ = ("staff", "staff.user")

    id = Column(Integer, primary_key=True)
    staff_id = Column(Integer, ForeignKey("staff_profile.id", ondelete="CASCADE"), nullable=False, index=True)
    staff = relationship("StaffProfile", backref="shifts")
    weekday = Column(Integer, nullable=False)
    start_minute = Column(Integer, nullable=False, default=8 * 60)
    end_minute = Column(Integer, nullable=False, default=18 * 60)

    def __str__(self):
        return f"{self.weekday} {self.start_minute // 60:02d}:{self.start_minute % 60:02d}-" \
               f"{self.end_minute // 60:02d}:{self.end_minute % 60:02d}"


class SlaPolicy(Stamped, Model):
    """Response and resolution times per ticket type and priority, edited in the UI."""

    __tablename__ = "sla_policy"
    __table_args__ = (
        UniqueConstraint("ticket_type", "priority", name="uq_sla_policy",
                         info={"field": "priority", "message": _("There is already a policy for this type and priority.")}),
        CheckConstraint("response_minutes > 0 AND resolution_minutes > 0", name="ck_sla_positive"),
    )

    id = Column(Integer, primary_key=True)
    ticket_type = choice_column(TICKET_TYPES, default="repair")
    priority = choice_column(PRIORITIES, default="medium")
    response_minutes = Column(Integer, nullable=False, default=240)
    resolution_minutes = Column(Integer, nullable=False, default=2880)

    def __str__(self):
        return f"{TICKET_TYPES.label(self.ticket_type)}/{PRIORITIES.label(self.priority)}"


class TicketRating(Model):
    """The customer's rating of a finished ticket: 1–5 stars, once per ticket."""

    __tablename__ = "ticket_rating"
    __table_args__ = (CheckConstraint("stars >= 1 AND stars <= 5", name="ck_ticket_rating_stars"),)
    __display_relations__ = ("ticket", "recorded_by")

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("ticket.id", ondelete="CASCADE"), nullable=False, unique=True)
    ticket = relationship("Ticket", backref=backref("rating", uselist=False))
    stars = Column(Integer, nullable=False)
    comment = Column(Text)
    source = choice_column(RATING_SOURCES, default="link")
    rated_at = Column(UTCDateTime, nullable=False, default=utcnow)
    recorded_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    recorded_by = relationship("User")

    def __str__(self):
        return "★" * (self.stars or 0)


class MessageTemplate(Stamped, Model):
    """The wording of a notice, edited by admins; ``{name}`` placeholders are filled when sent."""

    __tablename__ = "message_template"

    id = Column(Integer, primary_key=True)
    key = Column(String(40), unique=True, nullable=False, info={"choices": TEMPLATE_KEYS})
    subject = Column(String(200), nullable=False)
    body = Column(Text, nullable=False)
    active = Column(Boolean, nullable=False, default=True)

    def __str__(self):
        return TEMPLATE_KEYS.label(self.key)


class Notification(Model):
    """A message in a staff member's in-app inbox."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_read", "user_id", "read_at"),)

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False)
    user = relationship("User")
    title = Column(String(200), nullable=False)
    body = Column(Text)
    link = Column(String(500))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    read_at = Column(UTCDateTime)

    def __str__(self):
        return self.title or ""


class OutboxMessage(Model):
    """A notice waiting for, or done with, an external channel; sent by a job, never by a request.

    ``dedupe_key`` is unique: the same notice is never queued twice. ``fallback`` lists the
    channels still to try, in order, when this one cannot deliver.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)
    __display_relations__ = ("customer", "user")

    id = Column(Integer, primary_key=True)
    dedupe_key = Column(String(200), unique=True, nullable=False)
    template_key = Column(String(40), info={"choices": TEMPLATE_KEYS})
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    customer = relationship("Customer")
    # the staff member who receives it (in-app, or a staff email); for a customer's in-app
    # fallback, the staff member who should pass it on
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    user = relationship("User")
    channel = choice_column(NOTIFY_CHANNELS, default="sms")
    address = Column(String(200))
    fallback = Column(String(100), nullable=False, default="")
    subject = Column(String(200), nullable=False)
    body = Column(Text, nullable=False)
    status = choice_column(OUTBOX_STATUSES, default="pending")
    attempts = Column(Integer, nullable=False, default=0)

    def __str__(self):
        return f"{self.ip} {self.attempts}"
    next_attempt_at = Column(UTCDateTime, nullable=False, default=utcnow)
    claimed_at = Column(UTCDateTime)
    sent_at = Column(UTCDateTime)
    log = Column(Text)  # every failed attempt, one line each: nothing is lost
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    # broadcasts: which one, and what the channel reported back (delivery receipt, tracked link)
    broadcast_id = Column(Integer, ForeignKey("broadcast.id", ondelete="SET NULL", name="fk_outbox_message_broadcast_id"),
                          index=True)
    delivered_at = Column(UTCDateTime)
    clicked_at = Column(UTCDateTime)

    def __str__(self):
        return f"{NOTIFY_CHANNELS.label(self.channel)} {self.subject}"


class FeeRule(Stamped, Model):
    """How a fee is charged: per m² per month, fixed per unit, or metered; a building's own rule
    overrides the general one, and the newest rule in effect for the period applies."""

    __tablename__ = "fee_rule"
    __table_args__ = (CheckConstraint("price >= 0", name="ck_fee_rule_price"),
                      CheckConstraint("due_day >= 1 AND due_day <= 28", name="ck_fee_rule_due_day"))
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

    __tablename__ = "meter_reading"
    __table_args__ = (
        UniqueConstraint("unit_id", "fee_type", "period", name="uq_meter_reading",
                         info={"field": "period", "message": _("This unit already has a reading for the period.")}),
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

    def __str__(self):
        return f"{self.period} {FEE_TYPES.label(self.fee_type)} {self.reading}"


class BillingRun(Model):
    """What one bill generation for a period did: bills created, already there, and problems found."""

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


broadcast_building = Table(
    "broadcast_building",
    Model.metadata,
    Column("broadcast_id", Integer, ForeignKey("broadcast.id", ondelete="CASCADE"), primary_key=True),
    Column("building_id", Integer, ForeignKey("building.id", ondelete="CASCADE"), primary_key=True),
)
broadcast_tag = Table(
    "broadcast_tag",
    Model.metadata,
    Column("broadcast_id", Integer, ForeignKey("broadcast.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", Integer, ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True),
)


class Broadcast(Stamped, Model):
    """群发: one message to a segment of customers, queued by a job at the scheduled time.

    The segment is every customer matching all the given criteria (buildings, tags, type,
    arrears at least); each recipient gets one outbox row, so sending is throttled, resumable
    and counted per broadcast.
    """

    __tablename__ = "broadcast"
    __display_relations__ = ("created_by",)

    id = Column(Integer, primary_key=True)
    title = Column(String(100), nullable=False)
    subject = Column(String(200), nullable=False)
    body = Column(Text, nullable=False)
    link_url = Column(String(500))  # where the tracked {link} in the message leads
    buildings = relationship("Building", secondary=broadcast_building, order_by="Building.code")
    tags = relationship("Tag", secondary=broadcast_tag, order_by="Tag.name")
    customer_type = choice_column(CUSTOMER_TYPES, nullable=True)
    min_arrears = Column(Money, info={"check": "positive"})
    # the customers of a saved customer list view (its filters and search, as saved)
    saved_view_id = Column(Integer, ForeignKey("saved_list_view.id", ondelete="SET NULL",
                                               name="fk_broadcast_saved_view_id"))
    saved_view = relationship("SavedListView")
    scheduled_at = Column(UTCDateTime)
    status = choice_column(BROADCAST_STATUSES, default="draft")
    queued_at = Column(UTCDateTime)
    recipient_count = Column(Integer)
    created_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    created_by = relationship("User", foreign_keys=[created_by_id])
    updated_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    updated_by = relationship("User", foreign_keys=[updated_by_id])

    def __str__(self):
        return self.title or ""


class ChangeLog(Model):
    """操作日志: who created, changed or deleted which record, when, and what changed (field: old → new).

    Written by app.audit after every flush, for every path (pages, API, batch edit, import, jobs).
    """

    __tablename__ = "change_log"
    __table_args__ = (Index("ix_change_log_record", "resource", "record_id"),)
    __display_relations__ = ("actor",)

    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    actor_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    actor = relationship("User")
    resource = Column(String(40), nullable=False)
    record_id = Column(Integer, nullable=False)
    action = choice_column(CHANGE_ACTIONS, default="update")
    summary = Column(String(200))  # what the record was called at the time
    ip = Column(String(45))  # where the request came from (none for jobs)
    changes = Column(Text)  # JSON: {field: [old, new]}; collections: {field: {"added": [...], "removed": [...]}}

    def __str__(self):
        return f"{self.resource}#{self.record_id}"


class AccountSecurity(Model):
    """Per account: consecutive failed logins, a lock, and the session version (bumped on logout,
    password change or disabling, which ends every session issued before)."""

    __tablename__ = "account_security"
    __display_relations__ = ("user",)

    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True)
    user = relationship("User")
    failed_logins = Column(Integer, nullable=False, default=0)
    locked_until = Column(UTCDateTime)
    session_version = Column(Integer, nullable=False, default=0)
    last_failure_at = Column(UTCDateTime)
    # set when an admin creates the account or resets its password: the owner chooses a new one first
    must_change_password = Column(Boolean, nullable=False, default=False, server_default=false())


class LoginThrottle(Model):
    """Login attempts per client address and time window, shared by every worker process."""

    __tablename__ = "login_throttle"

    ip = Column(String(45), primary_key=True)
    window_start = Column(UTCDateTime, primary_key=True)
    attempts = Column(Integer, nullable=False, default=0)

    def __str__(self):
        return f"{self.ip} {self.attempts}"

    @property
    def id(self):  # list pages address records by id
        return self.user_id

    def __str__(self):
        return str(self.user) if self.user else str(self.user_id)
