"""The mobile work view's pages: 我的待办, a ticket's card and its actions, 我的巡检, 待处理诉求.

Thin: each page asks the domain modules what the desktop pages ask (app.tickets.lifecycle, app.facilities.maintenance)
and each action calls the same domain function, so the rules are those of the ticket work page.
"""

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _
from flask_login import current_user

from app.core import column_types as types
from app.core.clock import utcnow
from app.core.errors import DomainError
from app.extensions import db
from app.core.people import person_name
from app.facilities.maintenance import due_inspections, record_inspection
from app.mobile.blueprint import may, mobile
from app.models import MaintenanceOccurrence
from app.policy.attachments import is_image, original_name
from app.policy.field_permissions import shown_value
from app.policy.permissions import RESOURCE_CUSTOMER
from app.tickets.lifecycle import (
    add_note_with_files,
    handlers,
    manages_tickets,
    my_open_tickets,
    pending_tickets,
    reassign,
    resolve,
    start_work,
    ticket_actions,
    ticket_by_id,
    ticket_by_number,
    ticket_history,
)
from app.tickets.sla import remaining_text
from app.web.fields import max_upload_bytes


def _may_dispatch():
    """The pending pool on the phone: for who may read and edit tickets and work any of them (dispatch)."""
    return may("can_read") and may("can_edit") and manages_tickets(db.session, current_user.id)


def _ticket(number):
    # row scope (app.policy.scoping) applies: a ticket the user's scope does not show is not found
    ticket = ticket_by_number(db.session, number)
    if ticket is None:
        abort(404)
    return ticket


def _phone(ticket):
    """The customer's phone as the field levels show it, and the number to call (only when in clear)."""
    if not may("can_read", RESOURCE_CUSTOMER) or not shown_value(ticket, "customer"):
        return "", None
    customer = ticket.customer
    shown = shown_value(customer, "phone")
    return shown or "", (shown if shown and shown == customer.phone else None)


def _wants_json():
    return request.headers.get("X-Requested-With") == "fetch"


def _done(number, call, success):
    try:
        call()
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "danger")
    else:
        flash(str(success), "success")
    return redirect(url_for("mobile.ticket", number=number))


@mobile.route("/")
def todo():
    now = utcnow()
    tickets = my_open_tickets(db.session, current_user.id)
    return render_template(
        "mobile/todo.html",
        title=_("My to-do"),
        tickets=tickets,
        remaining=lambda ticket: remaining_text(ticket.deadline, now),
        overdue=lambda ticket: ticket.deadline is not None and ticket.deadline < now,
        may_dispatch=_may_dispatch(),
        choices=types,
    )


@mobile.route("/tickets/<number>")
def ticket(number):
    ticket = _ticket(number)
    events = []
    if may("can_read", "TicketEvent"):  # the history is a model of its own, granted apart
        events = ticket_history(db.session, ticket)
    attachments = ticket.attachments if may("can_read", "TicketAttachment") else []
    phone, tel = _phone(ticket)
    actions = ticket_actions(db.session, ticket, current_user.id, may("can_edit"))
    now = utcnow()
    return render_template(
        "mobile/ticket.html",
        title=str(ticket.number),
        back=url_for("mobile.todo"),
        ticket=ticket,
        events=events,
        attachments=attachments,
        photos=[
            (url_for(endpoint, filename=name), original_name(name))
            for endpoint, names in (
                ("TicketAttachmentView.download", [a.file for a in attachments]),
                ("TicketEventView.download", [e.attachment for e in events]),
            )
            for name in names
            if is_image(name)
        ],
        phone=phone,
        tel=tel,
        actions=actions,
        remaining=remaining_text(ticket.deadline, now) if ticket.deadline else "",
        choices=types,
        person=person_name,
        original_name=original_name,
        maintenance=ticket.maintenance[0] if ticket.maintenance else None,
    )


@mobile.route("/tickets/<number>/start", methods=["POST"])
def start(number):
    if not may("can_edit"):
        abort(403)
    ticket = _ticket(number)
    return _done(number, lambda: start_work(db.session, ticket), _("Work started."))


@mobile.route("/tickets/<number>/resolve", methods=["POST"])
def resolve_ticket(number):
    if not may("can_edit"):
        abort(403)
    ticket = _ticket(number)
    return _done(
        number,
        lambda: resolve(db.session, ticket, request.form.get("resolution")),
        _("Resolved; the customer will be notified."),
    )


@mobile.route("/tickets/<number>/note", methods=["POST"])
def note(number):
    """A note with photos from the camera; sent by the page's script (JSON answer) or as a plain form.
    The page's key for the note (client_key) makes a resent note count once."""
    if not may("can_edit"):
        if _wants_json():
            return jsonify(ok=False, message=gettext("You may not change tickets.")), 403
        abort(403)
    ticket = _ticket(number)
    try:
        saved = add_note_with_files(
            db.session,
            ticket,
            request.form.get("note"),
            request.files.getlist("photos"),
            current_app.config["UPLOAD_FOLDER"],
            max_upload_bytes(),
            utcnow(),
            client_key=request.form.get("client_key") or None,
        )
    except DomainError as error:
        db.session.rollback()
        if _wants_json():
            return jsonify(ok=False, message=str(error)), error.status
        flash(str(error), "danger")
        return redirect(url_for("mobile.ticket", number=number))
    message = gettext("Note added.") if saved else gettext("This note was sent already.")
    if _wants_json():
        return jsonify(ok=True, duplicate=not saved, message=message)
    flash(message, "success")
    return redirect(url_for("mobile.ticket", number=number))


@mobile.route("/inspections")
def inspections():
    return render_template(
        "mobile/inspections.html",
        title=_("My inspections"),
        back=url_for("mobile.todo"),
        occurrences=due_inspections(db.session, current_user.id),
        choices=types,
    )


@mobile.route("/inspections/<int:occurrence_id>", methods=["POST"])
def record(occurrence_id):
    """An inspection's result and readings, by the rule of the ticket work page (app.facilities.maintenance)."""
    if not may("can_edit"):
        abort(403)
    occurrence = db.session.get(MaintenanceOccurrence, occurrence_id)
    if occurrence is None or occurrence.ticket_id is None:
        abort(404)
    _ticket_by_id(occurrence.ticket_id)  # a work order outside the user's scope is not found
    try:
        record_inspection(
            db.session,
            occurrence,
            request.form.get("result"),
            request.form.get("readings"),
            current_user.id,
            utcnow(),
        )
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "danger")
    else:
        flash(gettext("Inspection recorded."), "success")
    return redirect(url_for("mobile.inspections"))


def _ticket_by_id(ticket_id):
    ticket = ticket_by_id(db.session, ticket_id)
    if ticket is None:
        abort(404)
    return ticket


@mobile.route("/pool")
def pool():
    if not _may_dispatch():
        abort(403)
    return render_template(
        "mobile/pool.html",
        title=_("Pending tickets"),
        back=url_for("mobile.todo"),
        tickets=pending_tickets(db.session),
        staff=handlers(db.session),
        person=person_name,
        choices=types,
    )


@mobile.route("/pool/<number>/dispatch", methods=["POST"])
def dispatch(number):
    """Give a pending ticket to a handler: the reassignment rule of the work page (its history line,
    the handler's load and notice come from the ticket's flush hook, app.tickets.lifecycle.record_assignment)."""
    if not _may_dispatch():
        abort(403)
    ticket = _ticket(number)
    assignee = request.form.get("assignee", type=int)
    try:
        reassign(db.session, ticket, assignee, request.form.get("reason"))
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "danger")
    else:
        flash(gettext("Ticket %(number)s dispatched.", number=number), "success")
    return redirect(url_for("mobile.pool"))
