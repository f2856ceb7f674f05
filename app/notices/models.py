"""Message templates, the staff inbox, the outbox and broadcasts."""

from flask_appbuilder.models.sqla import Model
from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy import false
from sqlalchemy.orm import relationship

from app.core.column_types import (
    BROADCAST_STATUSES,
    CUSTOMER_TYPES,
    NOTIFY_CHANNELS,
    OUTBOX_STATUSES,
    TEMPLATE_KEYS,
    UTCDateTime,
    utcnow,
)
from app.core.redaction import redact_for_staff
from app.core.model_base import Money, Stamped, choice_column, segment_tables


class MessageTemplate(Stamped, Model):
    """The wording of a notice, edited by admins; ``{name}`` placeholders are filled when sent."""

    __audited__ = True

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

    __audited__ = False  # a log of its own, a counter or machine bookkeeping: not a business record

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

    __audited__ = False  # a log of its own, a counter or machine bookkeeping: not a business record

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

    next_attempt_at = Column(UTCDateTime, nullable=False, default=utcnow)
    claimed_at = Column(UTCDateTime)
    sent_at = Column(UTCDateTime)
    log = Column(Text)  # every failed attempt, one line each: nothing is lost
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    # broadcasts: which one, and what the channel reported back (delivery receipt, tracked link)
    broadcast_id = Column(
        Integer, ForeignKey("broadcast.id", ondelete="SET NULL", name="fk_outbox_message_broadcast_id"), index=True
    )
    delivered_at = Column(UTCDateTime)
    clicked_at = Column(UTCDateTime)

    __str_fields__ = ("subject",)  # what __str__ prints: a relation shows them

    def __str__(self):
        return f"{NOTIFY_CHANNELS.label(self.channel)} {self.subject}"

    @property
    def body_for_staff(self):
        """The body as the outbox page shows it: no personal link's token, no sign-in code."""
        return redact_for_staff(self.body, self.template_key)


broadcast_building, broadcast_tag = segment_tables("broadcast")


class Broadcast(Stamped, Model):
    """群发: one message to a segment of customers, queued by a job at the scheduled time.

    The segment is every customer matching all the given criteria (buildings, tags, type,
    arrears at least); each recipient gets one outbox row, so sending is throttled, resumable
    and counted per broadcast.
    """

    __audited__ = True

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
    saved_view_id = Column(
        Integer, ForeignKey("saved_list_view.id", ondelete="SET NULL", name="fk_broadcast_saved_view_id")
    )
    saved_view = relationship("SavedListView")
    # only customers who have signed in to the resident portal at least once
    portal_residents = Column(Boolean, nullable=False, default=False, server_default=false())
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


class NoticeRead(Model):
    """A resident opened a broadcast as a notice in the portal: once per broadcast and customer."""

    __audited__ = False  # a log of its own, a counter or machine bookkeeping: not a business record

    __tablename__ = "notice_read"
    __table_args__ = (UniqueConstraint("broadcast_id", "customer_id", name="uq_notice_read"),)

    id = Column(Integer, primary_key=True)
    broadcast_id = Column(Integer, ForeignKey("broadcast.id", ondelete="CASCADE"), nullable=False, index=True)
    broadcast = relationship("Broadcast")
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True)
    customer = relationship("Customer")
    read_at = Column(UTCDateTime, nullable=False, default=utcnow)

    def __str__(self):
        return f"{self.broadcast_id}:{self.customer_id}"
