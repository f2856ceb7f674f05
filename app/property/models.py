"""Buildings and units."""

from flask_appbuilder.models.sqla import Model
from flask_babel import lazy_gettext as _
from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from app.core.column_types import UNIT_STATUSES, UNIT_USES
from app.core.model_base import Stamped, choice_column


class Building(Stamped, Model):
    __audited__ = True
    __tablename__ = "building"

    id = Column(Integer, primary_key=True)
    code = Column(String(20), unique=True, nullable=False)
    name = Column(String(100), unique=True, nullable=False)
    address = Column(String(255))
    floors = Column(Integer, CheckConstraint("floors IS NULL OR floors > 0", name="ck_building_floors"))
    notes = Column(Text)

    # the 楼栋 filter of lists picks a building by search (forms keep their plain select)
    __lookup_paths__ = ("name", "code")

    def __str__(self):
        return self.name or ""


class Unit(Stamped, Model):
    __audited__ = True
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
    __lookup_filters__ = ("building_id",)  # the 房屋 filter: the units of the building chosen beside it

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

    __str_fields__ = ("building", "number")  # what __str__ prints: a relation shows them

    def __str__(self):
        building = self.building.name if self.building else ""
        return f"{building}-{self.number}"


Building.units = relationship("Unit", back_populates="building", passive_deletes="all")
