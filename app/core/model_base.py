"""Shared pieces of the data model: column helpers and the created/updated stamps."""

from flask_appbuilder.models.mixins import FileColumn
from sqlalchemy import Column, Numeric, String

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
