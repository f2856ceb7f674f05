"""Broadcasts (群发): the segment, a preview, queuing by a job, tracked links and the send log.

Queuing writes one outbox row per recipient with the key ``broadcast:<id>:customer:<id>``, in
chunks, skipping keys already there: a job killed half-way and run again queues the rest, and
nobody twice. Sending is the outbox's job (claimed rows, retries, fallback channels), throttled
by its batch size per run.
"""

from flask_babel import lazy_gettext as _
from itsdangerous import BadSignature
from sqlalchemy import case, event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.signing import serializer
from app.core.errors import DomainError
from app.models import Bill, Broadcast, Customer, CustomerUnit, NoticeRead, OutboxMessage, Unit, customer_tag
from app.notices.notify import (
    channel_order,
    check_template,
    customer_channels,
    customer_message,
    text_changed,
    render,
    template_problems_log,
)
from app.web.listing import ListArgs

VARIABLES = ("customer_name", "link")
SALT = "broadcast-link"


def _check_broadcasts(session, flush_context, instances):
    """The final guard on every path (page, API, CLI, ORM): a broadcast's text is checked whenever it
    is saved with a changed text."""
    for item in list(session.new) + list(session.dirty):
        if isinstance(item, Broadcast) and text_changed(session, item, ("subject", "body")):
            check_message(item.subject, item.body)


def register(session_class=Session):
    if not event.contains(session_class, "before_flush", _check_broadcasts):
        event.listen(session_class, "before_flush", _check_broadcasts)


def check_message(subject, body):
    """The message may use {customer_name} and {link} only (the same check as notice templates)."""
    check_template("broadcast", subject, body, allowed=VARIABLES)


def segment(broadcast, today):
    """SELECT of the ids of the customers the broadcast goes to (all criteria must hold)."""
    query = select(Customer.id).where(Customer.status == "active")
    if broadcast.buildings:
        query = query.where(
            Customer.id.in_(
                select(CustomerUnit.customer_id)
                .join(Unit, Unit.id == CustomerUnit.unit_id)
                .where(Unit.building_id.in_([b.id for b in broadcast.buildings]), CustomerUnit.move_out.is_(None))
            )
        )
    if broadcast.tags:
        query = query.where(
            Customer.id.in_(
                select(customer_tag.c.customer_id).where(customer_tag.c.tag_id.in_([t.id for t in broadcast.tags]))
            )
        )
    if broadcast.customer_type:
        query = query.where(Customer.type == broadcast.customer_type)
    if broadcast.saved_view is not None:
        query = query.where(Customer.id.in_(saved_view_customers(broadcast.saved_view)))
    if getattr(broadcast, "portal_residents", False):
        query = query.where(Customer.portal_signed_in_at.isnot(None))
    if broadcast.min_arrears:
        owed = (
            select(Bill.customer_id)
            .where(Bill.due_date < today)
            .group_by(Bill.customer_id)
            .having(func.sum(Bill.outstanding) >= broadcast.min_arrears)
        )
        query = query.where(Customer.id.in_(owed))
    return query.order_by(Customer.id)


def saved_view_customers(saved_view):
    """The ids of the customers a saved customer list view shows, read through the list page's own
    filters and quick search (the one implementation of what a list shows)."""
    from flask import current_app

    view = next((v for v in current_app.appbuilder.baseviews if type(v).__name__ == saved_view.view), None)
    if view is None or view.datamodel.obj is not Customer:
        raise DomainError(_("Only a saved customer list can choose recipients."))
    query = view.list_query(ListArgs.of_query(saved_view.query))
    return select(query.with_entities(Customer.id).order_by(None).subquery().c[0])


def _link_token(secret_key, broadcast_id, customer_id):
    return serializer(secret_key, SALT, timed=False).dumps([broadcast_id, customer_id])


def tracked_link(base_url, secret_key, broadcast_id, customer_id):
    return f"{base_url.rstrip('/')}/b/{_link_token(secret_key, broadcast_id, customer_id)}"


def message_for(broadcast, customer, base_url, secret_key, report=None):
    """(subject, body) for one recipient, by the one safe renderer (a stored text with a bad placeholder
    renders it as written, and the problem goes to ``report``)."""
    values = {
        "customer_name": customer.name,
        "link": tracked_link(base_url, secret_key, broadcast.id, customer.id) if broadcast.link_url else "",
    }
    return (render(broadcast.subject, values, VARIABLES, report), render(broadcast.body, values, VARIABLES, report))


def preview(session, broadcast, today, base_url, secret_key):
    """(recipient count, sample subject, sample body) for the form, before anything is sent."""
    ids = segment(broadcast, today)
    count = session.execute(select(func.count()).select_from(ids.subquery())).scalar_one()
    first = session.execute(ids.limit(1)).scalar_one_or_none()
    if first is None:
        return 0, "", ""
    subject, body = message_for(broadcast, session.get(Customer, first), base_url, secret_key)
    return count, subject, body


def schedule(session, broadcast, now, at=None):
    """Hand the broadcast to the scheduler: now, or at a later time. Only drafts are scheduled."""
    if broadcast.status != "draft":
        raise DomainError(_("This broadcast has already been scheduled."))
    check_message(broadcast.subject, broadcast.body)
    broadcast.scheduled_at = at or now
    broadcast.status = "scheduled"
    session.commit()


def queue_broadcast(session, broadcast, now, base_url, secret_key, chunk=500):
    """Queue one outbox row per recipient (resumable: keys already queued are skipped). Returns rows added."""
    order = channel_order()
    added = 0
    last_id = 0
    query = segment(broadcast, now.date())
    while True:
        ids = session.execute(query.where(Customer.id > last_id).limit(chunk)).scalars().all()
        if not ids:
            break
        last_id = ids[-1]
        keys = {f"broadcast:{broadcast.id}:customer:{cid}": cid for cid in ids}
        done = set(
            session.execute(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(list(keys)))).scalars()
        )
        customers = {c.id: c for c in session.execute(select(Customer).where(Customer.id.in_(ids))).scalars()}
        for key, cid in keys.items():
            if key in done:
                continue
            customer = customers[cid]
            chain = customer_channels(customer, order, broadcast.created_by_id)
            if not chain:
                continue
            problems = []
            subject, body = message_for(broadcast, customer, base_url, secret_key, problems)
            session.add(
                customer_message(
                    customer,
                    chain,
                    subject,
                    body,
                    now,
                    broadcast.created_by_id,
                    dedupe_key=key,
                    broadcast_id=broadcast.id,
                    log=template_problems_log("; ".join(map(repr, problems)), now),
                )
            )
            added += 1
        try:
            session.commit()
        except IntegrityError:  # another scheduler queued this chunk at the same moment
            session.rollback()
    return added


def queue_due_broadcasts(session, now, base_url, secret_key):
    """The job: queue every broadcast whose time has come (and finish any a crash left half-queued)."""
    due = (
        session.execute(
            select(Broadcast.id).where(Broadcast.status.in_(("scheduled", "sending")), Broadcast.scheduled_at <= now)
        )
        .scalars()
        .all()
    )
    for broadcast_id in due:
        session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status == "scheduled")
            .values(status="sending")
            .execution_options(synchronize_session=False)
        )
        session.commit()
        broadcast = session.get(Broadcast, broadcast_id, populate_existing=True)
        queue_broadcast(session, broadcast, now, base_url, secret_key)
        broadcast.recipient_count = session.execute(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.broadcast_id == broadcast_id)
        ).scalar_one()
        broadcast.status, broadcast.queued_at = "queued", now
        session.commit()
    return len(due)


def stats(session, broadcast_ids):
    """Per broadcast: recipients, waiting, sent, delivered, failed, clicked (one GROUP BY); read in the
    portal and the portal read rate (% of recipients, one GROUP BY of the read receipts)."""
    rows = session.execute(
        select(
            OutboxMessage.broadcast_id,
            func.count(),
            func.sum(case((OutboxMessage.status.in_(("pending", "sending")), 1), else_=0)),
            func.sum(case((OutboxMessage.status == "sent", 1), else_=0)),
            func.sum(case((OutboxMessage.delivered_at.isnot(None), 1), else_=0)),
            func.sum(case((OutboxMessage.status == "failed", 1), else_=0)),
            func.sum(case((OutboxMessage.clicked_at.isnot(None), 1), else_=0)),
        )
        .where(OutboxMessage.broadcast_id.in_(broadcast_ids))
        .group_by(OutboxMessage.broadcast_id)
        .execution_options(crm_unscoped=True)  # counts of the broadcast's own messages, not their contents
    ).all()
    keys = ("total", "waiting", "sent", "delivered", "failed", "clicked")
    figures = {row[0]: dict(zip(keys, (int(v or 0) for v in row[1:]))) for row in rows}
    reads = dict(
        session.execute(
            select(NoticeRead.broadcast_id, func.count())
            .where(NoticeRead.broadcast_id.in_(list(figures)))
            .group_by(NoticeRead.broadcast_id)
            .execution_options(crm_unscoped=True)
        ).all()
    )
    for broadcast_id, row in figures.items():
        row["portal_read"] = int(reads.get(broadcast_id, 0))
        row["portal_read_rate"] = round(100 * row["portal_read"] / row["total"], 1) if row["total"] else 0.0
    return figures


def failed_messages(session, broadcast_id, limit=50):
    """The first messages of a broadcast that could not be delivered, for its report."""
    return (
        session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.broadcast_id == broadcast_id, OutboxMessage.status == "failed")
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )


def record_click(session, secret_key, token, now):
    """A recipient opened the tracked link: the first click is recorded; returns where to send them."""
    try:
        broadcast_id, customer_id = serializer(secret_key, SALT, timed=False).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    broadcast = session.get(Broadcast, broadcast_id)
    if broadcast is None or not broadcast.link_url:
        return None
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.dedupe_key == f"broadcast:{broadcast_id}:customer:{customer_id}",
            OutboxMessage.clicked_at.is_(None),
        )
        .values(clicked_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return broadcast.link_url


def record_receipt(session, reference, delivered, now, detail=""):
    """A gateway's delivery report for ``outbox-<id>``: delivered, or failed with its reason."""
    if not (reference or "").startswith("outbox-") or not reference[7:].isdigit():
        raise DomainError(_("Unknown message reference."))
    message = session.get(OutboxMessage, int(reference[7:]))
    if message is None:
        raise DomainError(_("Unknown message reference."))
    if delivered:
        message.delivered_at = message.delivered_at or now
    else:
        message.status = "failed"
        message.log = (message.log or "") + f"{now.isoformat()} {message.channel}: not delivered: {detail}\n"
    session.commit()
