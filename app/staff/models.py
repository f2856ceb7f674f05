"""Departments, staff, the duty roster, dispatch rules and service levels."""

from flask_appbuilder.models.sqla import Model
from flask_babel import lazy_gettext as _
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship
from sqlalchemy.sql.expression import false

from app.core.people import person_name
from app.core.column_types import PRIORITIES, TICKET_TYPES, UNIT_USES, UTCDateTime
from app.core.model_base import Stamped, choice_column, link_table


class Department(Stamped, Model):
    __audited__ = True
    __tablename__ = "department"

    id = Column(Integer, primary_key=True)
    name = Column(String(50), unique=True, nullable=False)
    phone = Column(String(20), info={"check": "phone"})
    description = Column(String(255))

    def __str__(self):
        return self.name or ""


staff_building = link_table("staff_building", "staff_profile", "building", index_right=True)


class StaffProfile(Stamped, Model):
    """What the CRM knows of a staff account beyond FAB's User: department, duty, load limit."""

    __audited__ = True

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
        return person_name(self.user) if self.user else ""


class DispatchRule(Stamped, Model):
    """Which department a new ticket goes to: by type, optionally narrowed by building or unit use."""

    __audited__ = True

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

    __audited__ = True

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
        return (
            f"{self.weekday} {self.start_minute // 60:02d}:{self.start_minute % 60:02d}-"
            f"{self.end_minute // 60:02d}:{self.end_minute % 60:02d}"
        )


SLA_FALLBACK_RESPONSE = "sla_fallback_response_minutes"
SLA_FALLBACK_RESOLUTION = "sla_fallback_resolution_minutes"
ESCALATION_LEVEL_TWO = "escalation_level_two_minutes"

# key -> (built-in value, what it means); the built-in value is only the seed (app.admin.settings)
BUILT_IN_SETTINGS = {
    SLA_FALLBACK_RESPONSE: (4 * 60, _("Minutes to respond when no service level covers a ticket's type and priority")),
    SLA_FALLBACK_RESOLUTION: (
        48 * 60,
        _("Minutes to resolve when no service level covers a ticket's type and priority"),
    ),
    ESCALATION_LEVEL_TWO: (
        4 * 60,
        _("Minutes after level 1 an overdue ticket is escalated to level 2 (managers told)"),
    ),
}


class SystemSetting(Model):
    """A default the firm may change (the SLA fallback, the level-2 escalation delay), created by
    `crm init` from the built-in value and read by the code from here (app.admin.settings)."""

    __tablename__ = "system_setting"
    __audited__ = False  # keyed by name, and the change history keys records by number
    __table_args__ = (CheckConstraint("value > 0", name="ck_system_setting_positive"),)

    key = Column(String(60), primary_key=True)
    value = Column(Integer, nullable=False)

    def __str__(self):
        return self.key

    def meaning(self):
        return BUILT_IN_SETTINGS[self.key][1] if self.key in BUILT_IN_SETTINGS else self.key


class SeededDefault(Model):
    """A built-in default `crm init` has created once (a setting, the service levels): never again,
    so an admin's change or deletion stands."""

    __tablename__ = "seeded_default"
    __audited__ = False  # bookkeeping of `crm init`

    name = Column(String(60), primary_key=True)
    seeded_at = Column(UTCDateTime, nullable=False)


# minutes to respond, minutes to resolve: the built-in service levels, created as SlaPolicy rows by
# `crm init` (app.admin.settings.seed_defaults) and from then on read from the rows only
DEFAULT_POLICIES = {
    ("repair", "high"): (60, 24 * 60),
    ("repair", "medium"): (4 * 60, 48 * 60),
    ("repair", "low"): (8 * 60, 72 * 60),
    ("complaint", "high"): (60, 24 * 60),
    ("complaint", "medium"): (2 * 60, 48 * 60),
    ("complaint", "low"): (4 * 60, 72 * 60),
    ("maintenance", "high"): (4 * 60, 48 * 60),
    ("maintenance", "medium"): (24 * 60, 7 * 24 * 60),
    ("maintenance", "low"): (48 * 60, 14 * 24 * 60),
    ("suggestion", "high"): (4 * 60, 3 * 24 * 60),
    ("suggestion", "medium"): (24 * 60, 7 * 24 * 60),
    ("suggestion", "low"): (48 * 60, 14 * 24 * 60),
    ("inquiry", "high"): (60, 8 * 60),
    ("inquiry", "medium"): (4 * 60, 24 * 60),
    ("inquiry", "low"): (8 * 60, 48 * 60),
}


class SlaPolicy(Stamped, Model):
    """Response and resolution times per ticket type and priority, edited in the UI."""

    __audited__ = True

    __tablename__ = "sla_policy"
    __table_args__ = (
        UniqueConstraint(
            "ticket_type",
            "priority",
            name="uq_sla_policy",
            info={"field": "priority", "message": _("There is already a policy for this type and priority.")},
        ),
        CheckConstraint("response_minutes > 0 AND resolution_minutes > 0", name="ck_sla_positive"),
    )

    id = Column(Integer, primary_key=True)
    ticket_type = choice_column(TICKET_TYPES, default="repair")
    priority = choice_column(PRIORITIES, default="medium")
    response_minutes = Column(Integer, nullable=False, default=240)
    resolution_minutes = Column(Integer, nullable=False, default=2880)

    def __str__(self):
        return f"{TICKET_TYPES.label(self.ticket_type)}/{PRIORITIES.label(self.priority)}"
