"""Human-readable numbers (WO202611220001, RC202611220001) from daily counters.

One upsert bumps the day's counter row, so concurrent writers serialize on that row
(PostgreSQL row lock, SQLite write lock) instead of racing on MAX(number)+1.
"""

from sqlalchemy.dialects import postgresql, sqlite

from app.models import NumberSequence

_UPSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def next_number(connection, prefix, now, tz):
    day = now.astimezone(tz).strftime("%Y%m%d")
    key = f"{prefix}{day}"
    insert = _UPSERT[connection.dialect.name](NumberSequence.__table__)
    stmt = (
        insert.values(key=key, value=1)
        .on_conflict_do_update(index_elements=["key"], set_={"value": NumberSequence.__table__.c.value + 1})
        .returning(NumberSequence.__table__.c.value)
    )
    value = connection.execute(stmt).scalar_one()
    return f"{key}{value:04d}"
