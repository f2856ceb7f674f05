"""Facilities (设备台账) and their maintenance plans (保养计划), which raise maintenance work orders."""

from flask_appbuilder.models.sqla import Model
from sqlalchemy import Boolean, CheckConstraint, Column, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from app.core.model_base import Stamped, choice_column
from app.core.column_types import EQUIPMENT_KINDS, INSPECTION_RESULTS, PRIORITIES, RECURRENCE_UNITS, UTCDateTime, utcnow


class Equipment(Stamped, Model):
    """A lift, water pump, fire system, CCTV …: where it is, who supplies and maintains it."""

    __audited__ = True

    __tablename__ = "equipment"
    __lookup__ = ("code", "name", "location")
    __display_relations__ = ("building", "supplier", "contract")

    id = Column(Integer, primary_key=True)
    code = Column(String(30), nullable=False, unique=True)
    name = Column(String(100), nullable=False)
    kind = choice_column(EQUIPMENT_KINDS, default="lift")
    building_id = Column(Integer, ForeignKey("building.id", ondelete="RESTRICT"), index=True)
    building = relationship("Building", backref="equipment")
    location = Column(String(200))
    supplier_id = Column(Integer, ForeignKey("supplier.id", ondelete="SET NULL"), index=True)
    supplier = relationship("Supplier")
    contract_id = Column(Integer, ForeignKey("contract.id", ondelete="SET NULL"), index=True)
    contract = relationship("Contract")  # the maintenance contract
    installed_on = Column(Date)
    warranty_until = Column(Date)
    notes = Column(Text)

    __str_fields__ = ("code", "name")  # what __str__ prints: a relation shows them

    def __str__(self):
        return f"{self.code} {self.name}" if self.code else (self.name or "")


class MaintenancePlan(Stamped, Model):
    """A recurring maintenance: every N days/weeks/months from the start date, or a cron rule
    ("0 9 1 * *": 09:00 on the 1st of each month). Work orders are raised ``lead_days`` ahead."""

    __audited__ = True

    __tablename__ = "maintenance_plan"
    __table_args__ = (
        CheckConstraint("every >= 1", name="ck_maintenance_plan_every"),
        CheckConstraint("lead_days >= 0", name="ck_maintenance_plan_lead_days"),
    )
    __display_relations__ = ("equipment", "department")
    __lookup__ = ("title",)

    id = Column(Integer, primary_key=True)
    equipment_id = Column(Integer, ForeignKey("equipment.id", ondelete="CASCADE"), nullable=False, index=True)
    equipment = relationship("Equipment", backref="plans")
    title = Column(String(200), nullable=False)
    every = Column(Integer, nullable=False, default=1)
    unit = choice_column(RECURRENCE_UNITS, default="months")
    cron = Column(String(100))  # when given, the cron rule is used instead of every/unit
    start_date = Column(Date, nullable=False)
    end_date = Column(Date)
    lead_days = Column(Integer, nullable=False, default=3)
    department_id = Column(Integer, ForeignKey("department.id", ondelete="SET NULL"))
    department = relationship("Department")
    priority = choice_column(PRIORITIES, default="medium")
    checklist = Column(Text)  # what to inspect and read, copied into each work order
    active = Column(Boolean, nullable=False, default=True)

    def __str__(self):
        return self.title or ""


class MaintenanceOccurrence(Model):
    """One due date of a plan and the work order raised for it; unique per (plan, date), so the job
    raises exactly one work order per occurrence however often it runs."""

    __audited__ = True

    __tablename__ = "maintenance_occurrence"
    __table_args__ = (UniqueConstraint("plan_id", "due_date", name="uq_maintenance_occurrence"),)
    __display_relations__ = ("plan", "ticket")

    id = Column(Integer, primary_key=True)
    plan_id = Column(Integer, ForeignKey("maintenance_plan.id", ondelete="CASCADE"), nullable=False)
    plan = relationship("MaintenancePlan", backref="occurrences")
    due_date = Column(Date, nullable=False)
    ticket_id = Column(Integer, ForeignKey("ticket.id", ondelete="SET NULL"), index=True)
    ticket = relationship("Ticket", backref="maintenance")
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    # the inspection, recorded by the technician with the work order
    result = choice_column(INSPECTION_RESULTS, nullable=True)
    readings = Column(Text)

    def __str__(self):
        return f"{self.plan or ''} {self.due_date}"
