"""Ticket rules that hold on every path: numbering and the append-only event log."""
import zoneinfo

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from app.errors import DomainError
from app.models import Ticket, TicketEvent
from app.numbering import next_number
from app.records import current_actor_id
from app.types import utcnow

DEFAULT_TZ = "Asia/Shanghai"


def local_zone():
    name = current_app.config.get("TIMEZONE", DEFAULT_TZ) if has_app_context() else DEFAULT_TZ
    return zoneinfo.ZoneInfo(name)


def _changed(item, attr):
    history = inspect(item).attrs[attr].history
    if not history.has_changes():
        return None
    old = history.deleted[0] if history.deleted else None
    new = history.added[0] if history.added else None
    return (old, new) if old != new else None


def _log_ticket_changes(session, flush_context, instances):
    """Number new tickets and append a TicketEvent for creation, status and assignee changes."""
    actor_id = current_actor_id(session)
    now = utcnow()
    for item in list(session.deleted):
        if isinstance(item, TicketEvent):
            raise DomainError(_("The ticket history cannot be changed."))
    for item in list(session.dirty):
        if isinstance(item, TicketEvent) and session.is_modified(item):
            raise DomainError(_("The ticket history cannot be changed."))
    for item in list(session.new):
        if isinstance(item, Ticket):
            if not item.number:
                item.number = next_number(session.connection(), "WO", now, local_zone())
            session.add(
                TicketEvent(ticket=item, at=now, actor_id=actor_id, kind="created", to_status=item.status or "new")
            )
    for item in list(session.dirty):
        if not isinstance(item, Ticket):
            continue
        status = _changed(item, "status")
        if status:
            session.add(
                TicketEvent(ticket=item, at=now, actor_id=actor_id, kind="status", from_status=status[0], to_status=status[1])
            )
        assignee = _changed(item, "assignee_id") or _changed(item, "assignee")
        if assignee:
            new = assignee[1]
            name = str(new) if new is not None and not isinstance(new, int) else new
            session.add(
                TicketEvent(ticket=item, at=now, actor_id=actor_id, kind="assigned", note=str(name or "-"))
            )


def register(session_class=Session):
    if not event.contains(session_class, "before_flush", _log_ticket_changes):
        event.listen(session_class, "before_flush", _log_ticket_changes)
