"""Ticket rules that hold on every path: numbering, the lifecycle, and the append-only event log.

The transition table is the one place that says which status may follow which; pages, API,
batch edit, CLI and jobs all pass through ``check_ticket_change`` (before saving, for a clear
message) and the flush listener (the final guard). The same listener is the one way a ticket is
born (``check_new_ticket``: it starts new, or assigned when given to someone) and
``check_still_changeable`` is the one rule that a closed or cancelled ticket is final.
"""

import datetime
import re

from flask import current_app, has_app_context
from flask_appbuilder.security.sqla.models import User
from flask_babel import lazy_gettext as _
from sqlalchemy import event, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from app.notices import notify
from app.policy.attachments import remove_stored, save_upload
from app.core.errors import DomainError, NotAllowed
from app.core.people import person_name
from app.models import (
    OPEN_STATUSES,
    CustomerUnit,
    StaffProfile,
    Ticket,
    TicketAttachment,
    TicketEvent,
    Unit,
)
from app.admin.numbering import next_number
from app.policy.records import current_actor_id, flush_time
from app.tickets.dispatch import dispatch
from app.tickets.sla import RAISED_PRIORITY, apply_sla
from app.core.clock import local_zone
from app.policy.principal import permits
from app.policy.permissions import ACTION_MANAGE, RESOURCE_TICKET
from app.core.column_types import NOTIFY_CHANNELS, TICKET_STATUSES, utcnow
from app.policy.attachments import original_name
from app.tickets.ratings import rating_url
from app.policy.records import UPDATE_CHECKS


# from status -> statuses it may move to
TRANSITIONS = {
    "new": ("assigned", "in_progress", "cancelled"),
    "assigned": ("new", "assigned", "in_progress", "cancelled"),
    "in_progress": ("assigned", "resolved", "cancelled"),
    "resolved": ("closed", "reopened"),
    "reopened": ("assigned", "in_progress", "cancelled"),
    "closed": (),
    "cancelled": (),
}
# a ticket is born "new"; it becomes "assigned" when dispatch or a chosen handler gives it to someone
BIRTH_STATUSES = ("new", "assigned")
# closed and cancelled are final: nothing of the ticket itself changes any more. What still happens is
# appended to it as records of their own (history, rating, communications, return visits), and an
# unsatisfied return visit escalates it (see _is_escalation).
FINAL_STATUSES = ("closed", "cancelled")
FINAL_CHANGEABLE = ()
_STAMPS = ("updated_at", "updated_by_id", "updated_by")


def can_move(from_status, to_status):
    return to_status in TRANSITIONS.get(from_status or "new", ())


def _has_handler(ticket):
    return ticket.assignee_id is not None or ticket.assignee is not None


def check_new_ticket(ticket):
    """A ticket is born by the transition table, whatever the path (form, API, import, job, ORM):
    it starts new, or assigned when it is given to a handler. Any other status is refused."""
    status = ticket.status or "new"
    if status in BIRTH_STATUSES and (status == "new" or _has_handler(ticket)):
        return
    raise DomainError(
        _(
            "A new ticket starts as %(new)s (or %(assigned)s when a handler is chosen); it cannot be "
            "created as %(status)s.",
            new=TICKET_STATUSES.label("new"),
            assigned=TICKET_STATUSES.label("assigned"),
            status=TICKET_STATUSES.label(status),
        ),
        field="status",
    )


def assign_if_handled(ticket):
    """The assignment rule: a new ticket given to someone is assigned (dispatch, a chosen handler,
    a reassignment)."""
    if (ticket.status or "new") == "new" and _has_handler(ticket):
        ticket.status = "assigned"


def _is_escalation(changes):
    """An unsatisfied return visit escalating a finished ticket: the level one up, its time, and the
    priority raised by app.tickets.sla's step (app.tickets.return_visits)."""
    if "escalation_level" not in changes or not set(changes) <= {"escalation_level", "escalated_at", "priority"}:
        return False
    old, new = changes["escalation_level"]
    if new != (old or 0) + 1:
        return False
    if "priority" in changes:
        old_priority, new_priority = changes["priority"]
        return new_priority == RAISED_PRIORITY.get(old_priority, old_priority)
    return True


def _differs(old, new):
    # a form shows times to the second: saving it unchanged is not a change
    if isinstance(old, datetime.datetime) and isinstance(new, datetime.datetime):
        return abs(old - new) >= datetime.timedelta(seconds=1)
    return old != new and not (old in (None, "") and new in (None, ""))


def check_still_changeable(ticket, changes, status=None):
    """Refuse changing a closed or cancelled ticket (form, API, batch edit, import, ORM all pass here).

    ``changes`` maps each field about to be set to (old value, new value); ``status`` is the status
    the ticket has before the change (default: its current one).
    """
    status = ticket.status if status is None else status
    if status not in FINAL_STATUSES:
        return
    changes = {k: v for k, v in changes.items() if k not in _STAMPS and k not in FINAL_CHANGEABLE and _differs(*v)}
    if not changes or _is_escalation(changes):
        return
    raise DomainError(
        _("Ticket %(number)s is closed or cancelled; it can no longer be changed.", number=ticket.number),
        field=next(iter(changes)),
    )


def pending_changes(ticket):
    """(old, new) of each column and many-to-one relation of ``ticket`` changed in the session."""
    state = inspect(ticket)
    keys = [a.key for a in state.mapper.column_attrs]
    keys += [r.key for r in state.mapper.relationships if r.direction.name == "MANYTOONE"]
    changes = {}
    for key in keys:
        history = state.attrs[key].history
        if history.has_changes():
            changes[key] = (
                history.deleted[0] if history.deleted else None,
                history.added[0] if history.added else None,
            )
    return changes


def manages_tickets(session, actor_id):
    """May this user work any ticket their scope shows (assign, hand over)? Others work only their own."""
    from flask_appbuilder.security.sqla.models import User

    if actor_id is None:
        return True  # jobs and CLI act as the system
    return permits(session, session.get(User, actor_id), ACTION_MANAGE, RESOURCE_TICKET)


def check_ticket_change(session, ticket, actor_id, now=None):
    """Refuse an illegal change of ``ticket`` (pending in the session) with a clear message.

    - the status may only move along TRANSITIONS;
    - a closed or cancelled ticket no longer changes (check_still_changeable);
    - resolving needs a result note;
    - a technician changes only tickets assigned to them, and cannot hand them to someone else.
    Also stamps responded/resolved/closed times as the status moves.
    """
    if inspect(ticket).persistent is False:
        return
    status = _changed(ticket, "status")
    assignee = _changed(ticket, "assignee_id") or _changed(ticket, "assignee")
    touched = [a.key for a in inspect(ticket).attrs if a.history.has_changes()]
    if touched and not manages_tickets(session, actor_id):
        history = inspect(ticket).attrs["assignee_id"].history
        owner = history.deleted[0] if history.deleted else ticket.assignee_id
        if owner != actor_id:
            raise NotAllowed(_("You can only change tickets assigned to you."))
        if assignee and getattr(assignee[1], "id", assignee[1]) not in (None, actor_id):
            raise NotAllowed(_("Only a supervisor or the service desk can reassign a ticket."), field="assignee")
    check_still_changeable(ticket, pending_changes(ticket), status[0] if status else ticket.status)
    if assignee and assignee[0] is not None and assignee[1] is not None and actor_id is not None:
        if not (getattr(ticket, "reassign_reason", None) or "").strip():
            raise DomainError(_("Give the reason for handing this ticket to someone else."), field="reassign_reason")
    if status:
        old, new = status
        if not can_move(old, new):
            raise DomainError(
                _(
                    "A ticket cannot go from %(old)s to %(new)s.",
                    old=TICKET_STATUSES.label(old),
                    new=TICKET_STATUSES.label(new),
                ),
                field="status",
            )
        now = now or utcnow()
        if new == "resolved":
            if not (ticket.resolution or "").strip():
                raise DomainError(_("Write the result before resolving the ticket."), field="resolution")
            ticket.resolved_at = now
        if new == "in_progress" and ticket.responded_at is None:
            ticket.responded_at = now
        if new == "closed":
            ticket.closed_at = now
        if new == "reopened":
            ticket.resolved_at = None


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
    now = flush_time(session)
    for item in list(session.deleted):
        if isinstance(item, TicketEvent):
            raise DomainError(_("The ticket history cannot be changed."))
    for item in list(session.dirty):
        if isinstance(item, TicketEvent) and session.is_modified(item):
            raise DomainError(_("The ticket history cannot be changed."))
    pending = {}
    for item in list(session.new):
        if isinstance(item, TicketAttachment) and (item.ticket is not None or item.ticket_id is not None):
            owner = {"ticket": item.ticket} if item.ticket is not None else {"ticket_id": item.ticket_id}
            session.add(
                TicketEvent(
                    **owner,
                    at=now,
                    actor_id=actor_id,
                    kind="note",
                    note=f"{_('Attachment added')}: {original_name(item.file)}",
                )
            )
        if isinstance(item, Ticket):
            check_new_ticket(item)
            if not item.number:
                item.number = next_number(session.connection(), "WO", now, local_zone())
            if item.created_at is None:
                item.created_at = now  # the SLA clock starts at the same instant as the record
            if item.response_due is None:
                apply_sla(session, item, now)
            assigned = None
            # session.info["dispatch"] = False lets loaders of historic tickets skip routing
            if (item.status or "new") == "new" and session.info.get("dispatch", True):
                with session.no_autoflush:
                    assigned = dispatch(session, item, now, local_zone(), pending)
            assign_if_handled(item)
            session.add(
                TicketEvent(ticket=item, at=now, actor_id=actor_id, kind="created", to_status=item.status or "new")
            )
            assignee_id = item.assignee_id or (item.assignee.id if item.assignee is not None else None)
            if assignee_id is not None:
                record_assignment(session, item, assignee_id, now, actor_id, pending=pending, automatic=assigned)
    for item in list(session.dirty):
        if not isinstance(item, Ticket):
            continue
        check_ticket_change(session, item, actor_id, now)
        status = _changed(item, "status")
        if status:
            note = None
            if status[1] == "resolved":
                note = item.resolution
                if has_app_context() and item.id is not None:
                    # the link goes in the customer's own message only: whoever holds it rates as the
                    # customer, so the history (read by the handler) says where it went, never what it is
                    link = rating_url(current_app.config["CRM_BASE_URL"], current_app.config["SECRET_KEY"], item)
                    with session.no_autoflush:
                        message = notify.notify_completion(session, item, link, now, local_zone())
                    sent = _rating_link_sent(item, message)
                    note = f"{note}\n{sent}" if sent else note
            elif status[1] == "cancelled":
                note = (getattr(item, "cancel_reason", None) or "").strip() or None
                item.cancel_reason = None  # given for this change only
            session.add(
                TicketEvent(
                    ticket=item,
                    at=now,
                    actor_id=actor_id,
                    kind="status",
                    from_status=status[0],
                    to_status=status[1],
                    note=note,
                )
            )
        assignee = _changed(item, "assignee_id") or _changed(item, "assignee")
        if assignee:
            new = assignee[1]
            new_id = getattr(new, "id", new)
            reason = (getattr(item, "reassign_reason", None) or "").strip()
            item.reassign_reason = None  # given for this change only
            if new_id is None:
                session.add(TicketEvent(ticket=item, at=now, actor_id=actor_id, kind="assigned", note="-"))
            else:
                record_assignment(session, item, new_id, now, actor_id, reason=reason, pending=pending)


def record_assignment(session, ticket, user_id, now, actor_id, reason=None, pending=None, automatic=None):
    """The one assignment rule, whoever gives the ticket to someone (dispatch, a handler chosen on the
    new-ticket form, a reassignment): a line in the ticket's history naming the handler (and the reason
    of a reassignment), the handler's workload (their least-recently-assigned stamp, and the count of
    tickets given in this flush that dispatch adds to their open ones), and their notice unless they
    gave it to themselves. ``automatic`` is the StaffProfile dispatch chose, if it did."""
    with session.no_autoflush:
        profile = (
            automatic
            or session.execute(
                select(StaffProfile).where(StaffProfile.user_id == user_id).execution_options(crm_unscoped=True)
            ).scalar_one_or_none()
        )
        name = str(profile) if profile is not None else person_name(session.get(User, user_id))
    if automatic is not None:
        note = str(_("Dispatched automatically to %(name)s", name=name))
    elif reason:
        note = f"{name or '-'}\n{_('Reason')}: {reason}"
    else:
        note = name or "-"
    session.add(TicketEvent(ticket=ticket, at=now, actor_id=actor_id, kind="assigned", note=note))
    if profile is not None:
        profile.last_assigned_at = now
    if pending is not None:
        pending[user_id] = pending.get(user_id, 0) + 1
    if user_id != actor_id:
        with session.no_autoflush:
            notify.notify_assignment(session, ticket, user_id, now, local_zone())


def attach_files(ticket, stored_names):
    """Files stored by app.policy.attachments, saved with the ticket in its transaction (each logged in its history)."""
    for name in stored_names:
        ticket.attachments.append(TicketAttachment(file=name))


def intake_context(session, customer_id, today, with_units=True, limit=10):
    """What the desk sees on choosing a customer for a new ticket: the units they live in or own now
    (not those they moved out of) and their open tickets, newest first. The session's row scope applies."""
    units = []
    if with_units:
        units = (
            session.execute(
                select(Unit)
                .join(CustomerUnit, CustomerUnit.unit_id == Unit.id)
                .where(
                    CustomerUnit.customer_id == customer_id,
                    (CustomerUnit.move_out.is_(None)) | (CustomerUnit.move_out >= today),
                )
                .options(selectinload(Unit.building))  # each unit is shown with its building's name
                .order_by(Unit.building_id, Unit.number)
                .limit(limit * 5)
            )
            .scalars()
            .unique()
            .all()
        )
    tickets = (
        session.execute(
            select(Ticket)
            .where(Ticket.customer_id == customer_id, Ticket.status.in_(OPEN_STATUSES))
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    return units, tickets


def _rating_link_sent(ticket, message):
    """The history's line about the rating link: the channel it went by, never the link."""
    if message is not None:
        return str(
            _(
                "The rating link was sent to the customer by %(channel)s.",
                channel=NOTIFY_CHANNELS.label(message.channel),
            )
        )
    if ticket.customer is not None:
        return str(_("No rating link could be sent to the customer; take the rating by phone."))
    return None


def register(session_class=Session):

    UPDATE_CHECKS[Ticket] = check_ticket_change
    if not event.contains(session_class, "before_flush", _log_ticket_changes):
        event.listen(session_class, "before_flush", _log_ticket_changes)


def _save(session, ticket):
    try:
        check_ticket_change(session, ticket, current_actor_id(session))
        session.commit()
    except Exception:
        session.rollback()
        raise


def start_work(session, ticket):
    """The handler starts on a ticket (one click in My to-do); the lifecycle rules apply as ever."""
    ticket.status = "in_progress"
    _save(session, ticket)


def resolve(session, ticket, resolution):
    """The handler finishes: the result note is required; the customer's completion notice is queued."""
    ticket.resolution = (resolution or "").strip() or None
    ticket.status = "resolved"
    _save(session, ticket)


def reassign(session, ticket, assignee_id, reason):
    """A supervisor or the service desk hands a ticket to someone; a reassignment needs a reason."""
    if ticket.status in ("closed", "cancelled", "resolved"):
        raise DomainError(_("Only open tickets can be reassigned."))
    if assignee_id is None or session.get(User, assignee_id) is None:
        raise DomainError(_("Choose who takes the ticket."), field="assignee")
    ticket.reassign_reason = reason
    ticket.assignee_id = assignee_id
    assign_if_handled(ticket)
    _save(session, ticket)


def handlers(session):
    """Whom a ticket can be given to (reassignment, dispatch from the pool): staff profiles by department."""
    return (
        session.execute(
            select(StaffProfile)
            .options(selectinload(StaffProfile.user), selectinload(StaffProfile.department))
            .order_by(StaffProfile.department_id, StaffProfile.id)
        )
        .scalars()
        .all()
    )


def ticket_actions(session, ticket, actor_id, may_edit):
    """Which one-click actions a handler is offered on ``ticket`` (the work page and the phone alike):
    those who work any ticket, or its assignee, with the edit permission (``may_edit``); starting and
    resolving along the transition table; notes until it is finished; handing over while it is open.
    The domain functions check again when the action is taken."""
    manages = manages_tickets(session, actor_id)
    can_edit = may_edit and (manages or ticket.assignee_id == actor_id)
    return {
        "manages": manages,
        "can_start": can_edit and "in_progress" in TRANSITIONS.get(ticket.status, ()),
        "can_resolve": can_edit and ticket.status == "in_progress",
        "can_note": can_edit and ticket.status not in ("closed", "cancelled"),
        "can_reassign": can_edit and manages and ticket.status in OPEN_STATUSES,
    }


def check_note_allowed(session, ticket, actor_id):
    """Who may write on a ticket's timeline: the desk and supervisors, a technician only on their
    own tickets; and nobody once it is finished. Notes and inspection results alike."""
    if not manages_tickets(session, actor_id) and ticket.assignee_id != actor_id:
        raise NotAllowed(_("You can only change tickets assigned to you."))
    if ticket.status in ("closed", "cancelled"):
        raise DomainError(_("This ticket is finished; notes can no longer be added."))


CLIENT_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")


def note_already_sent(session, ticket, client_key):
    """Has a note with this client key (made by the phone that wrote it) been saved on ``ticket``?"""
    if not client_key:
        return False
    found = session.execute(
        select(TicketEvent.id).where(TicketEvent.ticket_id == ticket.id, TicketEvent.client_key == client_key)
    ).first()
    return found is not None


def add_note(
    session, ticket, text, now, attachment=None, more_attachments=(), client_key=None, visible_to_customer=False
):
    """A progress note (optionally with files already stored by app.policy.attachments) on the timeline.

    The first file goes with the text, each further one (photos from a phone) on a line of its own.
    ``client_key`` is the key the sending page made for this note: a note sent twice (a phone that
    resent it when the network came back) is saved once; returns False when it was already saved.
    The customer sees the note on their portal page only when ``visible_to_customer`` (notes are internal).
    """
    actor_id = current_actor_id(session)
    text = (text or "").strip()
    files = [name for name in (attachment, *more_attachments) if name]
    if not text and not files:
        raise DomainError(_("Write a note or attach a file."), field="note")
    if client_key is not None and not CLIENT_KEY.fullmatch(client_key):
        raise DomainError(_("The note's key is not valid; reload the page and send it again."), field="note")
    check_note_allowed(session, ticket, actor_id)
    if note_already_sent(session, ticket, client_key):
        return False
    first = files[0] if files else None
    session.add(
        TicketEvent(
            ticket=ticket,
            at=now,
            actor_id=actor_id,
            kind="note",
            note=text or None,
            attachment=first,
            client_key=client_key,
            visible_to_customer=bool(visible_to_customer),
        )
    )
    for name in files[1:]:
        session.add(
            TicketEvent(
                ticket=ticket,
                at=now,
                actor_id=actor_id,
                kind="note",
                attachment=name,
                visible_to_customer=bool(visible_to_customer),
            )
        )
    try:
        session.commit()
    except IntegrityError:  # the same note, sent twice at once: the other request saved it
        session.rollback()
        if note_already_sent(session, ticket, client_key):
            return False
        raise
    return True


MAX_NOTE_FILES = 9


def add_note_with_files(
    session, ticket, text, uploads, folder, max_bytes, now, client_key=None, visible_to_customer=False
):
    """A note with uploaded files (werkzeug FileStorage: the work page's file, a phone's photos): each
    file checked and stored by app.policy.attachments, the note saved by ``add_note``; a refused note or file
    leaves no stored file behind. Returns False when a note with ``client_key`` was saved already."""
    check_note_allowed(session, ticket, current_actor_id(session))
    if note_already_sent(session, ticket, client_key):
        return False
    uploads = [upload for upload in uploads if upload is not None and upload.filename]
    if len(uploads) > MAX_NOTE_FILES:
        raise DomainError(_("At most %(count)s files with one note.", count=MAX_NOTE_FILES), field="photos")
    stored = []
    try:
        for upload in uploads:
            stored.append(save_upload(upload, folder, max_bytes))
        saved = add_note(
            session,
            ticket,
            text,
            now,
            *stored[:1],
            more_attachments=stored[1:],
            client_key=client_key,
            visible_to_customer=visible_to_customer,
        )
    except Exception:
        session.rollback()
        remove_stored(folder, stored)
        raise
    if not saved:
        remove_stored(folder, stored)
    return saved


def my_open_criteria(user_id):
    """我的待办: the open tickets assigned to ``user_id`` (the desktop list and the phone both ask this)."""
    return (Ticket.assignee_id == user_id, Ticket.status.in_(OPEN_STATUSES))


def my_open_tickets(session, user_id, limit=200):
    """My open tickets, the nearest deadline first (those without one last). Row scope applies."""
    return (
        session.execute(
            select(Ticket)
            .options(selectinload(Ticket.customer), selectinload(Ticket.unit).selectinload(Unit.building))
            .where(*my_open_criteria(user_id))
            .order_by(Ticket.deadline.is_(None), Ticket.deadline, Ticket.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )


def pending_criteria():
    """待处理诉求: new tickets no one has been given yet."""
    return (Ticket.status == "new", Ticket.assignee_id.is_(None))


def pending_tickets(session, limit=200):
    """The pending pool, oldest first (row scope applies)."""
    return (
        session.execute(
            select(Ticket)
            .options(selectinload(Ticket.customer), selectinload(Ticket.unit).selectinload(Unit.building))
            .where(*pending_criteria())
            .order_by(Ticket.created_at, Ticket.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )


def ticket_by_number(session, number):
    """The ticket with this number as the acting principal may see it (row scope), or None."""
    return session.execute(select(Ticket).where(Ticket.number == number)).scalar_one_or_none()


def ticket_by_id(session, ticket_id):
    """The ticket as the acting principal may see it (row scope), or None."""
    return session.execute(select(Ticket).where(Ticket.id == ticket_id)).scalar_one_or_none()


def ticket_history(session, ticket):
    """A ticket's history in the order it happened, with who did each step: the work page's and the
    phone's (the history is a model of its own: callers ask first whether it may be read)."""
    return (
        session.execute(
            select(TicketEvent)
            .options(joinedload(TicketEvent.actor))
            .where(TicketEvent.ticket_id == ticket.id)
            .order_by(TicketEvent.at, TicketEvent.id)
        )
        .scalars()
        .all()
    )
