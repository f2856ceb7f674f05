"""Service tickets, their history, files, ratings, and communication records."""

from flask_appbuilder.models.mixins import FileColumn
from flask_appbuilder.models.sqla import Model
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import backref, column_property, relationship

from app.core.column_types import (
    COMMUNICATION_CHANNELS,
    PRIORITIES,
    RATING_SOURCES,
    TICKET_CHANNELS,
    TICKET_EVENT_KINDS,
    TICKET_STATUSES,
    TICKET_TYPES,
    UTCDateTime,
    utcnow,
)
from app.core.model_base import Stamped, choice_column, link_table

# what a resident sees of their ticket's history by default; a note only when staff mark it so
CUSTOMER_VISIBLE_KINDS = ("created", "status", "assigned", "reminder")


def _visible_by_kind(context):
    return context.get_current_parameters().get("kind") in CUSTOMER_VISIBLE_KINDS


# the statuses in which a ticket still needs work: listed, escalated, dispatched and counted as open
OPEN_STATUSES = ("new", "assigned", "in_progress", "reopened")

communication_ticket = link_table("communication_ticket", "communication", "ticket", index_right=True)


class Ticket(Stamped, Model):
    """A service request / work order (诉求/工单)."""

    __audited__ = True

    __tablename__ = "ticket"
    __lookup__ = ("number", "title")
    __table_args__ = (
        Index("ix_ticket_status_deadline", "status", "deadline"),
        Index("ix_ticket_assignee_status", "assignee_id", "status"),
        # the ticket list's default order, and the same within a status filter (deep pages walk these)
        Index("ix_ticket_created_at", "created_at", "id"),
        Index("ix_ticket_status_created_at", "status", "created_at", "id"),
        # the escalation sweep looks for open tickets at level 0 and 1: few, among a million at level 2 or closed
        Index("ix_ticket_escalation", "escalation_level", "status"),
        # dashboards and reports count tickets resolved in a period
        Index("ix_ticket_resolved_at", "resolved_at"),
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
    assignee_id = column_property(Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL")), active_history=True)
    assignee = relationship("User", foreign_keys=[assignee_id], active_history=True)
    deadline = Column(UTCDateTime)
    description = Column(Text)
    resolution = Column(Text)  # the handler's result note, required to resolve
    preferred_visit_at = Column(UTCDateTime)  # when the customer would like the visit (portal requests)
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

    events = relationship("TicketEvent", back_populates="ticket", order_by="TicketEvent.id", passive_deletes="all")
    attachments = relationship("TicketAttachment", back_populates="ticket", cascade="all, delete-orphan")

    # not stored: the reason given with a reassignment, written to the ticket's history
    reassign_reason = None
    # not stored: the reason given with a cancellation, written to the ticket's history
    cancel_reason = None
    # the searchable select: a customer's tickets (?customer_id=), open ones first, then the newest
    __lookup_filters__ = ("customer_id",)

    @classmethod
    def lookup_order(cls):
        from sqlalchemy import case

        open_first = case((cls.status.in_(OPEN_STATUSES), 0), else_=1)
        return open_first, cls.created_at.desc(), cls.id.desc()

    __str_fields__ = ("number", "title")  # what __str__ prints: a relation shows them

    def __str__(self):
        return f"{self.number} {self.title}" if self.number else (self.title or "")


class TicketAttachment(Model):
    __audited__ = True
    __tablename__ = "ticket_attachment"
    __display_relations__ = ("ticket",)

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("ticket.id", ondelete="CASCADE"), nullable=False, index=True)
    ticket = relationship("Ticket", back_populates="attachments")
    file = Column(FileColumn, nullable=False)
    description = Column(String(200))
    uploaded_at = Column(UTCDateTime, nullable=False, default=utcnow)

    __str_fields__ = ("description",)  # what __str__ prints: a relation shows them

    def __str__(self):
        return self.description or str(self.file)


class TicketEvent(Model):
    """Append-only log of a ticket's life: rows are written by app.tickets.lifecycle, never edited."""

    __audited__ = False  # a log of its own, a counter or machine bookkeeping: not a business record

    __tablename__ = "ticket_event"
    __table_args__ = (
        Index("ix_ticket_event_at", "at", "id"),  # the history list's order
        # a note sent again by the phone that wrote it (app.tickets.lifecycle.add_note) is saved once
        UniqueConstraint("ticket_id", "client_key", name="uq_ticket_event_client_key"),
    )
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
    client_key = Column(String(64))
    # shown on the resident's 我的报修 page (app.tickets.resident_requests.customer_visible_events)
    visible_to_customer = Column(Boolean, nullable=False, default=_visible_by_kind, server_default=false())

    def __str__(self):
        return f"{self.ticket_id}#{self.id} {self.kind}"


class Communication(Stamped, Model):
    """A record of contact with a customer (沟通记录)."""

    __audited__ = True

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

    __str_fields__ = ("summary",)  # what __str__ prints: a relation shows them

    def __str__(self):
        return (self.summary or "")[:30]


class TicketRating(Model):
    """The customer's rating of a finished ticket: 1–5 stars, once per ticket."""

    __audited__ = True

    __tablename__ = "ticket_rating"
    __table_args__ = (
        CheckConstraint("stars >= 1 AND stars <= 5", name="ck_ticket_rating_stars"),
        Index("ix_ticket_rating_rated_at", "rated_at"),
    )
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
