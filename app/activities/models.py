"""Community activities (社区活动): published to a segment of residents, who sign up in the portal."""

from flask_appbuilder.models.sqla import Model
from flask_babel import lazy_gettext as _
from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from app.core.column_types import ACTIVITY_STATUSES, UTCDateTime, utcnow
from app.core.model_base import Stamped, choice_column, segment_tables

activity_building, activity_tag = segment_tables("activity")


class Activity(Stamped, Model):
    """社区活动: time, place, capacity and sign-up deadline, open to the residents of a segment
    (buildings and tags, as a broadcast's; none: every active customer).

    ``signed_up_count`` is the number of active sign-ups, raised only by a conditional UPDATE that
    holds it under ``capacity`` (app.activities.sign_ups.sign_up), so concurrent sign-ups never overfill it.
    """

    __audited__ = True

    __tablename__ = "activity"
    __table_args__ = (
        CheckConstraint("capacity > 0", name="ck_activity_capacity"),
        CheckConstraint("signed_up_count >= 0 AND signed_up_count <= capacity", name="ck_activity_signed_up_count"),
        CheckConstraint("ends_at >= starts_at", name="ck_activity_times"),
    )
    __display_relations__ = ("created_by",)

    id = Column(Integer, primary_key=True)
    title = Column(String(100), nullable=False)
    description = Column(Text)
    place = Column(String(200), nullable=False)
    starts_at = Column(UTCDateTime, nullable=False)
    ends_at = Column(UTCDateTime, nullable=False)
    sign_up_deadline = Column(UTCDateTime, nullable=False)
    capacity = Column(Integer, nullable=False, info={"check": "positive"})
    signed_up_count = Column(Integer, nullable=False, default=0, server_default="0")
    status = choice_column(ACTIVITY_STATUSES, default="draft")
    buildings = relationship("Building", secondary=activity_building, order_by="Building.code")
    tags = relationship("Tag", secondary=activity_tag, order_by="Tag.name")
    created_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    created_by = relationship("User", foreign_keys=[created_by_id])
    updated_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    updated_by = relationship("User", foreign_keys=[updated_by_id])

    def __str__(self):
        return self.title or ""


class ActivitySignUp(Model):
    """A resident's sign-up for an activity: one row per (activity, customer); cancelling stamps
    ``cancelled_at`` and signing up again clears it. ``attended`` is marked by staff afterwards."""

    __audited__ = True

    __tablename__ = "activity_sign_up"
    __table_args__ = (
        UniqueConstraint(
            "activity_id",
            "customer_id",
            name="uq_activity_sign_up",
            info={"field": "customer", "message": _("This customer has already signed up for this activity.")},
        ),
    )
    __display_relations__ = ("activity", "customer")

    id = Column(Integer, primary_key=True)
    activity_id = Column(Integer, ForeignKey("activity.id", ondelete="CASCADE"), nullable=False, index=True)
    activity = relationship("Activity", backref="sign_ups")
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True)
    customer = relationship("Customer")
    signed_up_at = Column(UTCDateTime, nullable=False, default=utcnow)
    cancelled_at = Column(UTCDateTime)
    attended = Column(Boolean)

    def __str__(self):
        return f"{self.activity} · {self.customer}" if self.activity_id else ""
