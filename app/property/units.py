"""Buildings and units as the desk names them: "1号楼-102" is one unit, and the records tied to it.

Staff read a unit as ``<building name>-<number>`` (Unit.__str__) and type it back the same way, or
shortened: ``1-102``, ``1号楼 102``, ``1号楼102``, ``1#102``, ``1栋102室``, the building's code
(``B01-102``) or its full name (``锦绣苑1号楼-102``, ``商业街A座-S101``). ``unit_key_units`` turns
such a term into the matching units; ``rows_of_units`` finds the records of any model tied to
those units (a customer through their residences, a ticket or bill through its unit, a payment
through its bill …), following the model's relations (``unit_path``).
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm.interfaces import MANYTOONE

from app.models import Building, Unit

# how a building's name ends ("1号楼", "3栋", "2幢", "商业街A座"); the longest first
BUILDING_SUFFIXES = ("号楼", "栋", "幢", "座", "楼", "号")
# the short forms of "building N" all mean the building whose name ends in N号楼 / N栋 / N幢 / N号
_NUMBERED = re.compile(r"(\d{1,3})(?:号楼|栋|幢|号)?")
_CODE = re.compile(r"[A-Za-z]{1,4}\d{1,6}")
_ROOM = r"(?P<room>[A-Za-z]{0,2}-?\d{1,5}[A-Za-z]?)(?:室|号)?"
_WITH_SEPARATOR = re.compile(r"(?P<building>.+?)\s*[-/#]\s*" + _ROOM)
_WITH_SPACE = re.compile(r"(?P<building>\S+?)\s+" + _ROOM)
_RUN_TOGETHER = re.compile(r"(?P<building>.+?(?:号楼|栋|幢|座|楼|#))" + _ROOM)
_DASHES = str.maketrans({"—": "-", "–": "-", "－": "-", "―": "-", "‐": "-", "／": "/", "＃": "#"})


@dataclass(frozen=True)
class UnitKey:
    building: str  # as typed: "1", "1号楼", "B01", "商业街A座"
    room: str  # the unit's number as typed: "102", "S101", "P-001"


def _looks_like_building(text):
    return bool(_NUMBERED.fullmatch(text) or _CODE.fullmatch(text) or text.endswith(BUILDING_SUFFIXES))


def parse_unit_key(term):
    """The unit a search term names (``UnitKey``), or None when the term is not a unit key
    (a name such as "王", a phone fragment such as "138", a period such as "2026-11")."""
    text = unicodedata.normalize("NFKC", (term or "").translate(_DASHES)).strip()
    if not text or len(text) > 60:
        return None
    for pattern in (_WITH_SEPARATOR, _WITH_SPACE, _RUN_TOGETHER):
        match = pattern.fullmatch(text)
        if match is None:
            continue
        building = match.group("building").strip().rstrip("#").strip()
        if building and _looks_like_building(building):
            return UnitKey(building, match.group("room"))
    return None


def _escape_like(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _name_ends_with(name):
    """Buildings whose name is ``name`` or ends with it, not as part of a longer number
    ("1号楼" is 1号楼 and 锦绣苑1号楼, never 11号楼)."""
    escaped = _escape_like(name)
    clause = Building.name.like(f"%{escaped}", escape="\\")
    if name[:1].isdigit():
        clause = and_(clause, ~or_(*[Building.name.like(f"%{digit}{escaped}", escape="\\") for digit in "0123456789"]))
    return or_(Building.name == name, clause)


def building_clause(text):
    """The SQL condition on Building for the building part of a unit key."""
    numbered = _NUMBERED.fullmatch(text)
    conditions = [Building.name == text, func.upper(Building.code) == text.upper()]
    if numbered:
        number = str(int(numbered.group(1)))
        conditions += [_name_ends_with(number + suffix) for suffix in ("号楼", "栋", "幢", "号")]
    elif text.endswith(BUILDING_SUFFIXES):
        conditions.append(_name_ends_with(text))
    return or_(*conditions)


def unit_key_units(term):
    """``SELECT unit.id`` of the units a search term names ("1号楼-102"), or None when it names none."""
    key = parse_unit_key(term)
    if key is None:
        return None
    rooms = sorted({key.room, key.room.upper(), key.room.lower()})
    return (
        select(Unit.id)
        .where(Unit.number.in_(rooms), Unit.building_id.in_(select(Building.id).where(building_clause(key.building))))
        .correlate(None)
    )


# ---------------------------------------------------------------- the records of a unit


@cache
def unit_path(model):
    """The relations from ``model`` to the unit its records belong to, dotted ("" for Unit itself,
    "unit" for a ticket or bill, "units.unit" for a customer, "bill.unit" for a payment), or None
    for a model tied to no unit.

    Derived from the relations: a model's own ``unit``, else one declared ``__unit_path__``
    (a customer's units are those of their residences), else those of a record it belongs to."""
    direct = _direct_unit_path(model)
    if direct is not None:
        return direct
    for rel in model.__mapper__.relationships:
        if rel.direction is MANYTOONE:
            through = _direct_unit_path(rel.mapper.class_)
            if through:
                return f"{rel.key}.{through}"
    return None


def _direct_unit_path(model):
    if model is Unit:
        return ""
    declared = getattr(model, "__unit_path__", None)
    if declared is not None:
        return declared
    for rel in model.__mapper__.relationships:
        if rel.direction is MANYTOONE and rel.mapper.class_ is Unit:
            return rel.key
    return None


def rows_of_units(model, unit_ids):
    """The SQL condition "this record belongs to one of ``unit_ids``" (a list or a ``SELECT unit.id``),
    as ``fk IN (SELECT …)`` steps along ``unit_path``; None for a model tied to no unit."""
    path = unit_path(model)
    if path is None:
        return None
    if not path:
        return Unit.id.in_(unit_ids)
    return _along(model, path.split("."), unit_ids)


def _along(model, parts, unit_ids):
    prop = getattr(model, parts[0]).property
    local, remote = prop.local_remote_pairs[0]
    rest = parts[1:]
    if not rest:  # the last step is a unit's foreign key
        return local.in_(unit_ids)
    inner = _along(prop.mapper.class_, rest, unit_ids)
    return local.in_(select(remote).where(inner).correlate(None))


def units_searchable(model, access):
    """May this user narrow ``model`` by unit? Only when its unit's number and building are fields they
    may search (a hidden or masked unit must not be found out by filtering)."""
    path = unit_path(model)
    if path is None:
        return False
    prefix = f"{path}." if path else ""
    return access.searchable(f"{prefix}number") and access.searchable(f"{prefix}building.name")


def unit_key_clause(model, term, access):
    """For a quick search or lookup: the records tied to the unit ``term`` names ("1号楼-102"),
    or None when the term names no unit or this user may not search ``model`` by unit."""
    units = unit_key_units(term)
    if units is None or not units_searchable(model, access):
        return None
    return rows_of_units(model, units)


def in_building(model, building_id):
    """The SQL condition "this record belongs to building N", for every model tied to a unit."""
    if model is Unit:
        return Unit.building_id == building_id
    return rows_of_units(model, select(Unit.id).where(Unit.building_id == building_id).correlate(None))


def in_unit(model, unit_id):
    """The SQL condition "this record belongs to unit N", for every model tied to a unit."""
    return rows_of_units(model, [unit_id])
