"""Shared pieces of the data model: column helpers and the created/updated stamps."""

from flask_appbuilder.models.mixins import FileColumn
from flask_appbuilder.models.sqla import Model
from sqlalchemy import Column, ForeignKey, Integer, Numeric, String, Table

from app.core.column_types import UTCDateTime, utcnow

Money = Numeric(12, 2, asdecimal=True)
# FAB's FileColumn is a stateless String; saying so lets SQLAlchemy cache statements that use it
FileColumn.cache_ok = True


def choice_column(choices, default=None, nullable=False, length=20):
    return Column(String(length), nullable=nullable, default=default, info={"choices": choices})


class Stamped:
    """Who created/changed a record and when (UTC), filled by app.policy.audit on every path."""

    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


def link_table(name, left, right, *, left_column=None, right_column=None, index_right=False):
    """A many-to-many link between two tables: one row a pair, gone with either side. The right
    column is indexed when the link is read from that side (e.g. a tag's customers)."""
    left_column = left_column or f"{left}_id"
    right_column = right_column or f"{right}_id"
    return Table(
        name,
        Model.metadata,
        Column(left_column, Integer, ForeignKey(f"{left}.id", ondelete="CASCADE"), primary_key=True),
        Column(
            right_column,
            Integer,
            ForeignKey(f"{right}.id", ondelete="CASCADE"),
            primary_key=True,
            index=True if index_right else None,
        ),
    )


def segment_tables(owner):
    """The buildings and tags that choose the customers of a segment (broadcasts, surveys,
    activities): ``<owner>_building`` and ``<owner>_tag``."""
    return (
        link_table(f"{owner}_building", owner, "building"),
        link_table(f"{owner}_tag", owner, "tag"),
    )
