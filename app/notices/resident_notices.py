"""通知公告: the broadcasts a resident was sent, as notices in the portal, and their read receipts.

A notice is a broadcast queued to the customer (its outbox row ``broadcast:<id>:customer:<id>``);
the text is the one rendered for them. Opening it records one read receipt per resident and
broadcast, which the broadcast's statistics count (app.notices.broadcasts.stats).
"""

from dataclasses import dataclass
import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError

from app.models import NoticeRead, OutboxMessage


@dataclass
class Notice:
    broadcast_id: int
    subject: str
    body: str
    at: datetime.datetime
    read_at: datetime.datetime | None


def _notices(customer_id):
    # the resident's own outbox rows, named by their customer id here (a resident principal reads no
    # outbox row through the ORM's scope, so the statement is marked unscoped and filtered by hand)
    return (
        select(
            OutboxMessage.broadcast_id,
            OutboxMessage.subject,
            OutboxMessage.body,
            func.coalesce(OutboxMessage.sent_at, OutboxMessage.created_at),
            NoticeRead.read_at,
        )
        .outerjoin(
            NoticeRead,
            and_(NoticeRead.broadcast_id == OutboxMessage.broadcast_id, NoticeRead.customer_id == customer_id),
        )
        .where(OutboxMessage.customer_id == customer_id, OutboxMessage.broadcast_id.isnot(None))
        .execution_options(crm_unscoped=True)
    )


def notices_for(session, customer_id, limit=50):
    """The resident's notices, newest first, each with when they read it (None: unread)."""
    rows = session.execute(_notices(customer_id).order_by(OutboxMessage.created_at.desc()).limit(limit)).all()
    return [Notice(*row) for row in rows]


def unread_count(session, customer_id):
    query = _notices(customer_id).where(NoticeRead.id.is_(None))
    return session.execute(select(func.count()).select_from(query.subquery())).scalar_one()


def open_notice(session, customer_id, broadcast_id, now):
    """The notice ``broadcast_id`` of this resident (None when it was not sent to them); the first
    opening records the read receipt."""
    row = session.execute(_notices(customer_id).where(OutboxMessage.broadcast_id == broadcast_id)).first()
    if row is None:
        return None
    notice = Notice(*row)
    if notice.read_at is None:
        session.commit()  # end the read first: the write below then waits for its turn (SQLite)
        try:
            with session.begin_nested():
                session.add(NoticeRead(broadcast_id=broadcast_id, customer_id=customer_id, read_at=now))
        except IntegrityError:  # opened twice at once: the other request recorded it
            pass
        session.commit()
        notice.read_at = now
    return notice
