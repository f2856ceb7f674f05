"""The change history (操作日志): one row per created, changed or deleted record, written after
every flush whatever the path, so no edit goes unrecorded. Loaders of historic data may turn it
off for their session (``session.info["audit"] = False``)."""

import datetime
import decimal
import json

from sqlalchemy import event, inspect, insert
from sqlalchemy.orm import Session

from app import models
from app.policy.records import current_actor_id
from app.core.column_types import utcnow
from app.models import ChangeLog

SKIPPED_FIELDS = {
    "created_at",
    "updated_at",
    "created_by_id",
    "updated_by_id",
    # FAB's accounts: never the password hash; login bookkeeping is logged as events
    "password",
    "login_count",
    "fail_login_count",
    "last_login",
    "created_on",
    "changed_on",
    "created_by_fk",
    "changed_by_fk",
}


def _fab_audited():
    from flask_appbuilder.security.sqla.models import Role, User

    return (User, Role)  # accounts and roles: who gave whom which role or permission


def audited(item):
    """Each app model declares ``__audited__`` (True or False) itself, so where it lives never
    decides; FAB's tables are audited only for accounts and roles."""
    if isinstance(item, _fab_audited()):
        return True
    return isinstance(item, models.Model) and getattr(type(item), "__audited__", False) is True


def _plain(value):
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _remember_old_values(session, flush_context, instances):
    """An attribute set on an expired record has no old value in its history: read it before the write."""
    if session.info.get("audit") is False:
        return
    from sqlalchemy import select

    remembered = session.info.setdefault("audit_old", {})
    with session.no_autoflush:
        for item in session.dirty:
            if not audited(item) or inspect(item).identity is None:
                continue
            state = inspect(item)
            unknown = [
                a
                for a in state.mapper.column_attrs
                if state.attrs[a.key].history.added and not state.attrs[a.key].history.deleted
            ]
            if unknown:
                table = type(item).__table__
                row = session.execute(
                    select(*[table.c[a.columns[0].name] for a in unknown]).where(table.c.id == state.identity[0])
                ).first()
                if row is not None:
                    remembered[(type(item), state.identity[0])] = {a.key: v for a, v in zip(unknown, row)}


def _column_changes(item, all_values=False, old_values=None):
    state = inspect(item)
    changes = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in SKIPPED_FIELDS or key == "id":
            continue
        history = state.attrs[key].history
        if all_values:
            value = getattr(item, key)
            if value is not None:
                changes[key] = [None, _plain(value)]
        elif history.has_changes():
            old = history.deleted[0] if history.deleted else (old_values or {}).get(key)
            new = history.added[0] if history.added else None
            if old != new:
                changes[key] = [_plain(old), _plain(new)]
    for rel in state.mapper.relationships:
        if rel.secondary is None or not rel.uselist:
            continue  # many-to-one is the foreign key column above; one-to-many is the other side's record
        history = state.attrs[rel.key].history
        if history.added or history.deleted:
            changes[rel.key] = {"added": [str(o) for o in history.added], "removed": [str(o) for o in history.deleted]}
    return changes


def _record(session, flush_context):
    if session.info.get("audit") is False:
        return
    old_values = session.info.pop("audit_old", {})
    actor_id, now = current_actor_id(session), utcnow()
    rows = []
    for action, items in (("create", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for item in items:
            if not audited(item):
                continue
            identity = inspect(item).identity
            changes = (
                {}
                if action == "delete"
                else _column_changes(
                    item,
                    all_values=action == "create",
                    old_values=old_values.get((type(item), identity[0])) if identity else None,
                )
            )
            if action == "update" and not changes:
                continue
            record_id = inspect(item).identity[0] if inspect(item).identity else getattr(item, "id", None)
            if record_id is None:
                continue
            rows.append(
                {
                    "at": now,
                    "actor_id": actor_id,
                    "resource": type(item).__name__,
                    "record_id": record_id,
                    "action": action,
                    "summary": str(item)[:200],
                    "ip": _client_ip(),
                    "changes": json.dumps(changes, ensure_ascii=False) if changes else None,
                }
            )
    if rows:
        session.connection().execute(insert(models.ChangeLog), rows)


def _client_ip():
    from flask import has_request_context, request

    return request.remote_addr if has_request_context() else None


def record_event(session, action, resource, record_id=0, summary="", actor_id=None, details=None, commit=True):
    """Log something that is not a record change: a login, a failed login, a lock, an export, a job run."""

    session.add(
        ChangeLog(
            at=utcnow(),
            actor_id=actor_id,
            resource=resource,
            record_id=record_id or 0,
            action=action,
            summary=(summary or "")[:200],
            ip=_client_ip(),
            changes=json.dumps(details, ensure_ascii=False, default=str) if details else None,
        )
    )
    if commit:
        session.commit()


def register(session_class=Session):
    for name, listener in (("before_flush", _remember_old_values), ("after_flush", _record)):
        if not event.contains(session_class, name, listener):
            event.listen(session_class, name, listener)


def describe(resource, field, value):
    """A logged value as staff read it: the label of a declared choice, else the value itself."""
    model = getattr(models, resource, None)
    column = model.__table__.columns.get(field) if model is not None and hasattr(model, "__table__") else None
    choices = column.info.get("choices") if column is not None else None
    if value is None:
        return "—"
    return choices.label(value) if choices is not None and value in choices else value


def history(session, resource, record_id, limit=200):
    """A record's change history, newest first."""
    from sqlalchemy import select

    return (
        session.execute(
            select(models.ChangeLog)
            .where(models.ChangeLog.resource == resource, models.ChangeLog.record_id == record_id)
            .order_by(models.ChangeLog.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )


def decoded(entry):
    return json.loads(entry.changes) if entry.changes else {}
