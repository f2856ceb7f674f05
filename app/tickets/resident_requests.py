"""A resident's own requests (报事报修 / 我的报修): submitted from the portal, followed, reminded,
cancelled while new, rated when done.

A request is a Ticket born through the same flush rule as the desk's (app.tickets.lifecycle: numbering, SLA,
dispatch, notices). Every function first finds what the resident names among their own rows (their
customer id in the query, on top of the portal's row scope), and only then acts as the system for the
rules that read staff data (dispatch, the handler's name, who is told).
"""

import datetime

from flask_appbuilder.security.sqla.models import User
from flask_babel import lazy_gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.notices import notify
from app.policy.attachments import IMAGES, check_upload, is_image, is_stored_name, remove_stored, save_upload
from app.core.clock import local_zone
from app.core.errors import DomainError
from app.models import (
    OPEN_STATUSES,
    CustomerUnit,
    Department,
    StaffProfile,
    Ticket,
    TicketAttachment,
    TicketEvent,
    Unit,
)
from app.policy.principal import SYSTEM, acting_as, users_with_permission
from app.tickets.ratings import RatingLinkError, record_rating
from app.policy.permissions import ACTION_MANAGE, RESOURCE_TICKET
from app.tickets.lifecycle import attach_files
from app.core.column_types import TICKET_STATUSES, TICKET_TYPES

MAX_PHOTOS = 9
# what a resident may report (planned maintenance work orders are the firm's own)
RESIDENT_TYPES = ("repair", "complaint", "suggestion", "inquiry")
# the channels a request from the portal comes in by: WeChat's in-app browser, or any other browser
PORTAL_CHANNELS = ("wechat", "web")
MAX_DESCRIPTION = 2000
VISIT_WINDOW = datetime.timedelta(days=90)  # how far ahead a preferred visit time may be


class NotFound(DomainError):
    """Nothing of this resident's by that number (another resident's is not theirs: the same answer)."""


def channel_for(user_agent):
    """微信 when the page was opened in WeChat's in-app browser, else 网页."""
    return "wechat" if "micromessenger" in (user_agent or "").lower() else "web"


def type_choices():
    return [(code, TICKET_TYPES.label(code)) for code in RESIDENT_TYPES]


def resident_units(session, customer_id, today):
    """The units the resident lives in or owns now (not those they moved out of), by building and number."""
    return (
        session.execute(
            select(Unit)
            .join(CustomerUnit, CustomerUnit.unit_id == Unit.id)
            .where(
                CustomerUnit.customer_id == customer_id,
                CustomerUnit.move_out.is_(None) | (CustomerUnit.move_out >= today),
            )
            .order_by(Unit.building_id, Unit.number)
        )
        .scalars()
        .unique()
        .all()
    )


def store_photos(uploads, folder, max_bytes):
    """Check every photo (count, size, an image by its content: the staff attachments' rule), then store
    them; returns the stored names. A refused photo stores nothing: the message names the file."""
    uploads = [u for u in uploads if u is not None and u.filename]
    if len(uploads) > MAX_PHOTOS:
        raise DomainError(_("At most %(count)s photos.", count=MAX_PHOTOS), field="photos")
    for upload in uploads:
        try:
            check_upload(upload.filename, upload.stream, max_bytes, IMAGES)
        except DomainError as error:
            raise DomainError(f"{upload.filename}: {error}", field="photos")
    stored = []
    try:
        for upload in uploads:
            stored.append(save_upload(upload, folder, max_bytes, IMAGES))
    except Exception:
        remove_stored(folder, stored)
        raise
    return stored


def submit_request(session, customer_id, unit_id, type, description, visit_at, stored_files, channel, now):
    """The resident's request becomes a ticket, through the desk's creation rule, with its photos, in one
    transaction (or nothing). Refused with a clear message: a type residents cannot choose, a unit not
    theirs, no description, a visit time already past, more than MAX_PHOTOS photos."""
    if type not in RESIDENT_TYPES:
        raise DomainError(_("Choose what kind of request this is."), field="type")
    description = (description or "").strip()
    if not description:
        raise DomainError(_("Describe the problem."), field="description")
    if len(description) > MAX_DESCRIPTION:
        raise DomainError(
            _("Keep the description under %(count)s characters.", count=MAX_DESCRIPTION), field="description"
        )
    if channel not in PORTAL_CHANNELS:
        raise DomainError(_("Not a valid choice: %(value)s", value=channel), field="channel")
    if visit_at is not None and visit_at < now:
        raise DomainError(_("The preferred visit time has already passed."), field="visit_at")
    if visit_at is not None and visit_at > now + VISIT_WINDOW:
        raise DomainError(_("Choose a visit time within %(days)s days.", days=VISIT_WINDOW.days), field="visit_at")
    if len(stored_files) > MAX_PHOTOS:
        raise DomainError(_("At most %(count)s photos.", count=MAX_PHOTOS), field="photos")
    today = now.astimezone(local_zone()).date()
    unit = None
    if isinstance(unit_id, int):
        unit = next((u for u in resident_units(session, customer_id, today) if u.id == unit_id), None)
    if unit is None:
        raise DomainError(_("Choose one of your own units."), field="unit")
    try:
        with acting_as(SYSTEM):  # ownership checked: numbering, SLA and dispatch read the firm's data
            ticket = Ticket(
                title=f"{TICKET_TYPES.label(type)}：{unit}"[:200],
                type=type,
                channel=channel,
                customer_id=customer_id,
                unit_id=unit.id,
                description=description,
                preferred_visit_at=visit_at,
                status="new",
            )
            attach_files(ticket, stored_files)
            session.add(ticket)
            session.commit()
    except Exception:
        session.rollback()
        raise
    return ticket


def is_resident_submission(ticket):
    """Sent by the resident from the portal (no staff member logged it)."""
    return ticket.channel in PORTAL_CHANNELS and ticket.created_by_id is None


def resident_tickets(session, customer_id, limit=100):
    """The resident's tickets, newest first."""
    return (
        session.execute(
            select(Ticket)
            .where(Ticket.customer_id == customer_id)
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )


def resident_ticket(session, customer_id, number, for_update=False):
    """The resident's ticket of that number; another resident's (or none) is NotFound."""
    query = select(Ticket).where(Ticket.customer_id == customer_id, Ticket.number == str(number or "")[:20])
    if for_update:  # the status and reminders are read and changed in one go
        query = query.with_for_update(of=Ticket).execution_options(populate_existing=True)
    ticket = session.execute(query).scalar_one_or_none()
    if ticket is None:
        raise NotFound(_("No such request."))
    return ticket


def _handler_name(session, user_id):
    """How a resident reads who comes: the department and the family name + 师傅, never a phone number."""
    with acting_as(SYSTEM):
        row = session.execute(
            select(StaffProfile.department_id, StaffProfile.user_id)
            .where(StaffProfile.user_id == user_id)
            .execution_options(crm_unscoped=True)
        ).first()
        user = session.get(User, user_id)
        department = session.get(Department, row[0]) if row is not None and row[0] is not None else None
    family = ""
    if user is not None:
        last, first = (user.last_name or "").strip(), (user.first_name or "").strip()
        cjk = any("\u4e00" <= ch <= "\u9fff" for ch in last + first)
        family = last[:1] if cjk else last
    handler = str(_("Master %(family)s", family=family)) if family else str(_("a technician"))
    return f"{department.name} {handler}" if department is not None else handler


STATUS_TEXTS = {
    "new": _("Waiting to be assigned"),
    "in_progress": _("The technician has started work"),
    "resolved": _("Your request has been handled"),
    "closed": _("Closed"),
    "cancelled": _("Cancelled"),
    "reopened": _("Reopened"),
}


def customer_visible_events(session, ticket):
    """What the resident sees of their ticket's history: the lines marked visible to the customer
    (created, status changes, assignments and reminders by default; notes only when staff marked them),
    each as {at, title, text, photo}. Assignments name the current handler as "department 刘师傅"; staff
    names in full, phone numbers and internal notes are never shown."""
    events = (
        session.execute(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id, TicketEvent.visible_to_customer.is_(True))
            .order_by(TicketEvent.at, TicketEvent.id)
        )
        .scalars()
        .all()
    )
    last_assignment = None
    if ticket.assignee_id is not None:
        last_assignment = max((e.id for e in events if e.kind == "assigned" and e.note != "-"), default=None)
    shown = []
    for event in events:
        text, photo = "", None
        if event.kind == "created":
            title = _("Request submitted")
        elif event.kind == "assigned":
            if event.note == "-":
                title = _("Waiting to be assigned again")
            elif event.id == last_assignment:
                title = _("Assigned to %(handler)s", handler=_handler_name(session, ticket.assignee_id))
            else:
                title = _("Assigned")
        elif event.kind == "status":
            if event.to_status == "assigned":
                continue  # the assignment line says it, with who
            title = STATUS_TEXTS.get(event.to_status, TICKET_STATUSES.label(event.to_status))
            if event.to_status == "cancelled":
                text = event.note or ""
        elif event.kind == "reminder":
            title = _("You sent a reminder")
        else:  # a note staff chose to show
            title = _("Message from the property service")
            text = event.note or ""
            photo = event.attachment if is_image(event.attachment) else None
        shown.append({"at": event.at, "title": str(title), "text": text, "photo": photo})
    return shown


def ticket_photos(session, ticket):
    """The ticket's own photos a resident sees: theirs and those staff attached to the ticket (other files
    stay on the staff side). A photo on a note shows with the note, when the note is visible to them."""
    names = session.execute(
        select(TicketAttachment.file).where(TicketAttachment.ticket_id == ticket.id).order_by(TicketAttachment.id)
    ).scalars()
    return [name for name in names if is_image(name)]


def photo_of_ticket(session, ticket, name):
    """``name`` when it is a photo the resident may open on this ticket, else None."""
    if not is_stored_name(name) or not is_image(name):
        return None
    if name in ticket_photos(session, ticket):
        return name
    visible = session.execute(
        select(TicketEvent.id).where(
            TicketEvent.ticket_id == ticket.id,
            TicketEvent.attachment == name,
            TicketEvent.visible_to_customer.is_(True),
        )
    ).first()
    return name if visible is not None else None


def next_reminder_at(session, ticket, interval):
    """When the resident may remind again (None: now)."""
    last = session.execute(
        select(func.max(TicketEvent.at)).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "reminder")
    ).scalar_one_or_none()
    if last is None:
        return None
    return last + interval


def reminder_recipients(session, ticket):
    """Who a reminder reaches: the handler, or (unassigned) the dispatchers of the ticket's department —
    those who may assign tickets — else every dispatcher."""
    if ticket.assignee_id is not None:
        return [ticket.assignee_id]
    dispatchers = users_with_permission(session, ACTION_MANAGE, RESOURCE_TICKET)
    return notify.of_department_first(session, ticket.department_id, dispatchers)


def remind(session, customer_id, number, now, interval):
    """催单: at most once per ``interval`` for an open request, recorded on its history (shown to the
    resident) and put in the handler's (or the dispatchers') inbox. Too early: a message saying when."""
    try:
        ticket = resident_ticket(session, customer_id, number, for_update=True)
        if ticket.status not in OPEN_STATUSES:
            raise DomainError(_("This request is finished; there is nothing to remind about."))
        allowed_at = next_reminder_at(session, ticket, interval)
        if allowed_at is not None and now < allowed_at:
            raise DomainError(
                _(
                    "You reminded us about this request already. You can remind again after %(time)s.",
                    time=allowed_at.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M"),
                )
            )
        count = (
            session.execute(
                select(func.count())
                .select_from(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "reminder")
            ).scalar_one()
            + 1
        )
        with acting_as(SYSTEM):
            session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    at=now,
                    kind="reminder",
                    note=str(_("Reminder %(count)s from the customer", count=count)),
                    visible_to_customer=True,
                )
            )
            values = dict(notify.ticket_values(ticket, local_zone()), count=count)
            notify.notify_staff(
                session,
                reminder_recipients(session, ticket),
                "reminder_notice",
                values,
                f"/ticketwork/{ticket.number}",
                now,
            )
            session.commit()
    except Exception:
        session.rollback()
        raise
    return ticket


def cancel(session, customer_id, number, reason, now):
    """The resident withdraws a request nobody has taken yet (status new only; the transition table
    applies); the reason goes on its history."""
    try:
        ticket = resident_ticket(session, customer_id, number, for_update=True)
        if ticket.status != "new":
            raise DomainError(
                _("Only a request not yet assigned can be cancelled; call the service desk to withdraw this one.")
            )
        reason = (reason or "").strip()[:500]
        with acting_as(SYSTEM):
            ticket.cancel_reason = str(
                _("Cancelled by the customer: %(reason)s", reason=reason or _("no reason given"))
            )
            ticket.status = "cancelled"
            session.commit()
    except Exception:
        session.rollback()
        raise
    return ticket


def rate(session, customer_id, number, stars, comment, now):
    """The resident's own rating of a finished request (app.tickets.ratings' one rule, source "portal"): once."""
    try:
        ticket = resident_ticket(session, customer_id, number)
        with acting_as(SYSTEM):
            record_rating(session, ticket, stars, comment, "portal", now)
    except IntegrityError:  # rated at the same moment elsewhere (the one rating per ticket)
        session.rollback()
        raise RatingLinkError(_("Thank you — this service has already been rated."))
    except Exception:
        session.rollback()
        raise
    return ticket
