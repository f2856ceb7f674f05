"""报事报修 and 我的报修: a resident reports a problem with photos, follows it, reminds, cancels, rates.

Thin: the rules are app.tickets.resident_requests'; this reads the form and shows the result.
"""

import datetime

from flask import abort, current_app, flash, redirect, render_template, request, send_from_directory, url_for
from flask_babel import gettext, lazy_gettext as _

from app.policy.attachments import MIME_TYPES, remove_stored
from app.core.clock import local_now, local_zone, utcnow
from app.core.typed_dates import TypedDateError, parse_typed_datetime
from app.web.fields import max_upload_bytes
from app.core.errors import DomainError
from app.extensions import db
from app.portal.blueprint import portal, tile
from app.portal.session import current_customer_id, resident_required
from app.tickets import resident_requests as requests_
from app.tickets.ratings import RATABLE
from app.core.column_types import TICKET_CHANNELS, TICKET_STATUSES

tile("portal.new_request", _("Report a problem"), "🔧")
tile("portal.my_requests", _("My requests"), "📋")

BADGES = {
    "new": "",
    "assigned": "",
    "in_progress": "",
    "reopened": "portal-badge-warn",
    "resolved": "portal-badge-done",
}


def _reminder_interval():
    return datetime.timedelta(hours=current_app.config["CRM_PORTAL_REMINDER_HOURS"])


def _form_page(values, error=None, status=200):
    today = local_now().date()
    units = requests_.resident_units(db.session, current_customer_id(), today)
    return (
        render_template(
            "portal/request_new.html",
            title=_("Report a problem"),
            back=url_for("portal.home"),
            units=units,
            types=requests_.type_choices(),
            values=values,
            error=error,
            max_photos=requests_.MAX_PHOTOS,
            max_mb=int(current_app.config["CRM_MAX_ATTACHMENT_MB"]),
            visit_min=local_now().strftime("%Y-%m-%dT%H:%M"),
        ),
        status,
    )


@portal.route("/requests/new", methods=["GET", "POST"])
@resident_required
def new_request():
    if request.method == "GET":
        return _form_page({"type": "repair", "unit": "", "description": "", "visit_at": ""})
    form = request.form
    values = {key: form.get(key, "") for key in ("type", "unit", "description", "visit_at")}
    visit_at = None
    if values["visit_at"].strip():
        try:
            visit_at = parse_typed_datetime(values["visit_at"], local_zone())
        except TypedDateError:
            return _form_page(values, gettext("Give the visit time as 2026-12-01 18:00."))
    folder, stored = current_app.config["UPLOAD_FOLDER"], []
    try:
        stored = requests_.store_photos(request.files.getlist("photos"), folder, max_upload_bytes())
        ticket = requests_.submit_request(
            db.session,
            current_customer_id(),
            form.get("unit", type=int),
            values["type"],
            values["description"],
            visit_at,
            stored,
            requests_.channel_for(request.headers.get("User-Agent")),
            utcnow(),
        )
    except DomainError as error:
        remove_stored(folder, stored)  # no request, no stray photo
        return _form_page(values, str(error))
    except Exception:
        remove_stored(folder, stored)
        raise
    flash(gettext("Submitted. Your ticket number is %(number)s.", number=ticket.number), "success")
    return redirect(url_for("portal.request_page", number=ticket.number))


@portal.route("/requests")
@resident_required
def my_requests():
    tickets = requests_.resident_tickets(db.session, current_customer_id())
    return render_template(
        "portal/requests.html",
        title=_("My requests"),
        back=url_for("portal.home"),
        tickets=tickets,
        statuses=TICKET_STATUSES,
        badges=BADGES,
    )


def _ticket(number):
    try:
        return requests_.resident_ticket(db.session, current_customer_id(), number)
    except requests_.NotFound:
        abort(404)


@portal.route("/requests/<number>")
@resident_required
def request_page(number):
    ticket = _ticket(number)
    now = utcnow()
    next_reminder = requests_.next_reminder_at(db.session, ticket, _reminder_interval())
    return render_template(
        "portal/request.html",
        title=ticket.number,
        back=url_for("portal.my_requests"),
        ticket=ticket,
        events=requests_.customer_visible_events(db.session, ticket),
        photos=requests_.ticket_photos(db.session, ticket),
        statuses=TICKET_STATUSES,
        channels=TICKET_CHANNELS,
        badges=BADGES,
        can_remind=ticket.status in requests_.OPEN_STATUSES,
        next_reminder=next_reminder if next_reminder is not None and next_reminder > now else None,
        can_cancel=ticket.status == "new",
        can_rate=ticket.status in RATABLE and ticket.rating is None,
        rating=ticket.rating,
    )


@portal.route("/requests/<number>/photos/<name>")
@resident_required
def request_photo(number, name):
    ticket = _ticket(number)
    if requests_.photo_of_ticket(db.session, ticket, name) is None:
        abort(404)
    response = send_from_directory(
        current_app.config["UPLOAD_FOLDER"], name, mimetype=MIME_TYPES.get(name.rsplit(".", 1)[-1].lower())
    )
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _act(number, call, success):
    _ticket(number)  # someone else's number: 404, before anything is tried
    try:
        call()
    except requests_.NotFound:
        abort(404)
    except DomainError as error:
        flash(str(error), "danger")
    else:
        flash(str(success), "success")
    return redirect(url_for("portal.request_page", number=number))


@portal.route("/requests/<number>/remind", methods=["POST"])
@resident_required
def remind(number):
    return _act(
        number,
        lambda: requests_.remind(db.session, current_customer_id(), number, utcnow(), _reminder_interval()),
        _("Reminder sent. We will get back to you as soon as possible."),
    )


@portal.route("/requests/<number>/cancel", methods=["POST"])
@resident_required
def cancel(number):
    return _act(
        number,
        lambda: requests_.cancel(db.session, current_customer_id(), number, request.form.get("reason"), utcnow()),
        _("The request was cancelled."),
    )


@portal.route("/requests/<number>/rate", methods=["POST"])
@resident_required
def rate(number):
    return _act(
        number,
        lambda: requests_.rate(
            db.session,
            current_customer_id(),
            number,
            request.form.get("stars"),
            request.form.get("comment"),
            utcnow(),
        ),
        _("Thank you for your rating."),
    )
