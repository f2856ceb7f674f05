"""Small factories for domain objects; each commits so pages and API see the rows."""

import datetime
import itertools
from decimal import Decimal

from sqlalchemy import update

from app.extensions import db
from app.models import Bill, Building, Customer, CustomerUnit, Department, Tag, Ticket, Unit

_seq = itertools.count(1)


def building(**kw):
    n = next(_seq)
    obj = Building(code=kw.pop("code", f"B{n:03d}"), name=kw.pop("name", f"{n}号楼"), floors=kw.pop("floors", 18), **kw)
    db.session.add(obj)
    db.session.commit()
    return obj


def unit(building_obj=None, **kw):
    obj = Unit(
        building=building_obj or building(),
        number=kw.pop("number", f"{next(_seq):04d}"),
        area=kw.pop("area", Decimal("89.50")),
        **kw,
    )
    db.session.add(obj)
    db.session.commit()
    return obj


def tag(**kw):
    obj = Tag(name=kw.pop("name", f"标签{next(_seq)}"), color=kw.pop("color", "#336699"), **kw)
    db.session.add(obj)
    db.session.commit()
    return obj


def phone():
    return f"139{next(_seq):08d}"


def customer(**kw):
    tags = kw.pop("tags", [])
    units = kw.pop("units", [])
    obj = Customer(name=kw.pop("name", f"张{next(_seq)}"), phone=kw.pop("phone", phone()), **kw)
    obj.tags = list(tags)
    for u in units:
        obj.units.append(CustomerUnit(unit=u, relation="owner"))
    db.session.add(obj)
    db.session.commit()
    return obj


def department(**kw):
    obj = Department(name=kw.pop("name", f"部门{next(_seq)}"), **kw)
    db.session.add(obj)
    db.session.commit()
    return obj


def ticket(**kw):
    """A ticket; one in a later status (``status="closed"``) is born new, as every ticket is, and then
    put in that status directly in the database, as older data would be."""
    status = kw.pop("status", None)
    later = status not in (None, "new", "assigned")
    obj = Ticket(
        title=kw.pop("title", "厨房水管漏水"),
        type=kw.pop("type", "repair"),
        **({} if later else {"status": status}),
        **kw,
    )
    db.session.add(obj)
    db.session.commit()
    if later:
        db.session.execute(update(Ticket).where(Ticket.id == obj.id).values(status=status))
        db.session.commit()  # the object is expired: it reads the status from the database
    return obj


def bill(customer_obj=None, unit_obj=None, **kw):
    unit_obj = unit_obj or unit()
    obj = Bill(
        customer=customer_obj or customer(units=[unit_obj]),
        unit=unit_obj,
        period=kw.pop("period", "2026-10"),
        fee_type=kw.pop("fee_type", "property"),
        amount=kw.pop("amount", Decimal("300.00")),
        due_date=kw.pop("due_date", datetime.date(2026, 11, 15)),
        **kw,
    )
    db.session.add(obj)
    db.session.commit()
    return obj
