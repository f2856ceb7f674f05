"""Customers, their tags and the units they live in."""

from flask_appbuilder.models.sqla import Model
from flask_babel import lazy_gettext as _
from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from app.core.column_types import (
    CUSTOMER_STATUSES,
    CUSTOMER_TYPES,
    GENDERS,
    NOTIFY_CHANNELS,
    RESIDENT_RELATIONS,
    UTCDateTime,
)
from app.core.model_base import Stamped, choice_column, link_table


customer_tag = link_table("customer_tag", "customer", "tag", index_right=True)


class Tag(Stamped, Model):
    __audited__ = True
    __tablename__ = "tag"

    id = Column(Integer, primary_key=True)
    name = Column(String(50), unique=True, nullable=False)
    color = Column(String(7), nullable=False, default="#1f77b4", info={"check": "color"})
    description = Column(String(255))

    def __str__(self):
        return self.name or ""


class Customer(Stamped, Model):
    __audited__ = True
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
    preferred_channel = Column(
        String(20), nullable=False, default="sms", server_default="sms", info={"choices": NOTIFY_CHANNELS}
    )
    wechat_openid = Column(String(64))
    last_reminded_at = Column(UTCDateTime)  # payment reminders: at most one per configured interval
    portal_signed_in_at = Column(UTCDateTime)  # the last sign-in to the resident portal (broadcast segment)

    tags = relationship("Tag", secondary=customer_tag, backref="customers", order_by="Tag.name")
    units = relationship("CustomerUnit", back_populates="customer", cascade="all, delete-orphan")

    # shown beside the name in searchable selects (subject to field permissions); never in __str__,
    # which appears wherever a customer is referenced
    __lookup_detail__ = "phone"
    # the units a customer belongs to are those of their residences (app.property.units: "1号楼-102" finds them)
    __unit_path__ = "units.unit"

    def __str__(self):
        return self.name or ""


class CustomerUnit(Model):
    """A customer's tie to a unit: owner, tenant or family member, with move-in/out dates."""

    __audited__ = True

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

    __str_fields__ = ("unit",)  # what __str__ prints: a relation shows them

    def __str__(self):
        return f"{self.unit} ({RESIDENT_RELATIONS.label(self.relation)})"
