"""Defaults the firm can see and change (系统设置 → 系统参数, 时效规则): created once by `crm init`
from the built-in values, then read from their rows. An admin's change or deletion is never
undone by a later `crm init` (each seed is recorded in SeededDefault).
"""

from sqlalchemy import insert, select

from app.staff.models import (
    BUILT_IN_SETTINGS as BUILT_IN,
    DEFAULT_POLICIES,
    ESCALATION_LEVEL_TWO,  # noqa: F401 (the setting names are read from here)
    SLA_FALLBACK_RESOLUTION,  # noqa: F401
    SLA_FALLBACK_RESPONSE,  # noqa: F401
)
from app.models import SeededDefault, SlaPolicy, SystemSetting

SLA_POLICIES_SEED = "sla_policies"


def setting(session, key):
    """The setting's value: its row, or (before `crm init` created it) the built-in value."""
    value = session.execute(select(SystemSetting.value).where(SystemSetting.key == key)).scalar()
    return value if value is not None else BUILT_IN[key][0]


def describe(key):
    return BUILT_IN[key][1] if key in BUILT_IN else key


def seed_defaults(session, now):
    """Create the built-in settings and service levels that were never created before; returns the
    names seeded. Rows an admin changed or deleted stay as they are."""

    done = set(session.execute(select(SeededDefault.name)).scalars())
    seeded = []
    if SLA_POLICIES_SEED not in done:
        existing = set(session.execute(select(SlaPolicy.ticket_type, SlaPolicy.priority)).tuples())
        rows = [
            {"ticket_type": t, "priority": p, "response_minutes": r, "resolution_minutes": s}
            for (t, p), (r, s) in DEFAULT_POLICIES.items()
            if (t, p) not in existing
        ]
        if rows:
            session.execute(insert(SlaPolicy), rows)
        seeded.append(SLA_POLICIES_SEED)
    existing = set(session.execute(select(SystemSetting.key)).scalars())
    for key, (value, _meaning) in BUILT_IN.items():
        if key not in done:
            if key not in existing:
                session.execute(insert(SystemSetting).values(key=key, value=value))
            seeded.append(key)
    if seeded:
        session.execute(insert(SeededDefault), [{"name": name, "seeded_at": now} for name in seeded])
    session.commit()
    return seeded
