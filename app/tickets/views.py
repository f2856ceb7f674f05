"""Ticket pages: the ticket lists (all, my to-do, logged by me, the pending pool), the work page, history, attachments and ratings."""

from flask import abort, current_app, flash, g, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import FilterEqualFunction
from flask_babel import lazy_gettext as _
from markupsafe import Markup
from wtforms import MultipleFileField, TextAreaField

from app import models
from app.core import column_types as types
from app.core.clock import local_today
from app.core.column_types import utcnow
from app.core.errors import DomainError
from app.extensions import db
from app.core.labels import COLUMN_LABELS
from app.core.people import person_name
from app.facilities.maintenance import record_inspection
from app.policy.attachments import ALLOWED, DOCUMENTS, original_name, remove_stored, save_upload
from app.policy.field_permissions import shown_value
from app.policy.permissions import (
    RESOURCE_COMMUNICATION,
    RESOURCE_CUSTOMER,
    RESOURCE_RESIDENCE,
    RESOURCE_TICKET,
    RESOURCE_TICKET_ATTACHMENT,
    RESOURCE_TICKET_EVENT,
    RESOURCE_TICKET_RATING,
    RESOURCE_UNIT,
)
from app.tickets.lifecycle import (
    add_note_with_files,
    attach_files,
    handlers,
    intake_context,
    my_open_criteria,
    pending_criteria,
    reassign,
    resolve,
    start_work,
    ticket_actions,
    ticket_by_number,
    ticket_history,
)
from app.tickets.ratings import STAFF_SOURCES as STAFF_RATING_SOURCES
from app.tickets.ratings import check_rating
from app.tickets.sla import remaining_text
from app.web.fields import AttachmentField, choice_select, max_upload_bytes, uploads_validator
from app.web.interface import CrmInterface
from app.web.model_view import CrmView


class CommunicationView(CrmView):
    datamodel = CrmInterface(models.Communication)
    class_permission_name = RESOURCE_COMMUNICATION
    list_columns = ["at", "customer", "channel", "summary", "staff"]
    add_columns = edit_columns = ["customer", "at", "channel", "summary", "tickets", "attachment", "staff"]
    # the manual asks for call recordings here: audio is accepted (by content) besides photos and documents
    add_form_extra_fields = {"attachment": AttachmentField(COLUMN_LABELS["attachment"], accepted=ALLOWED)}
    edit_form_extra_fields = {"attachment": AttachmentField(COLUMN_LABELS["attachment"], accepted=ALLOWED)}
    lookup_depends = {"tickets": ("customer", "customer_id")}
    show_columns = ["customer", "at", "channel", "summary", "attachment", "staff", "tickets", "created_at"]
    search_columns = ["channel", "summary", "at", "staff"]
    order_columns = ["at", "customer", "channel"]
    base_order = ("at", "desc")
    quick_search = ("summary", "customer.name", "customer.phone")


class TicketEventView(CrmView):
    datamodel = CrmInterface(models.TicketEvent)
    class_permission_name = RESOURCE_TICKET_EVENT
    base_permissions = ["can_read"]
    list_columns = ["at", "ticket", "kind", "from_status", "to_status", "actor", "note"]
    show_columns = list_columns + ["attachment"]
    search_columns = ["kind", "to_status", "at"]
    order_columns = ["at", "kind", "ticket"]
    base_order = ("at", "desc")


class TicketAttachmentView(CrmView):
    datamodel = CrmInterface(models.TicketAttachment)
    class_permission_name = RESOURCE_TICKET_ATTACHMENT
    list_columns = ["ticket", "file", "description", "uploaded_at"]
    add_columns = ["ticket", "file", "description"]
    edit_columns = ["description"]
    show_columns = ["ticket", "file", "description", "uploaded_at"]
    search_columns = ["description"]


class TicketView(CrmView):
    datamodel = CrmInterface(models.Ticket)
    class_permission_name = RESOURCE_TICKET
    list_columns = [
        "number",
        "title",
        "type",
        "priority",
        "status",
        "customer",
        "unit",
        "department",
        "assignee",
        "deadline",
        "created_at",
    ]
    add_columns = [
        "title",
        "type",
        "priority",
        "channel",
        "customer",
        "unit",
        "department",
        "assignee",
        "deadline",
        "description",
        "photos",
    ]
    edit_columns = [
        "title",
        "type",
        "priority",
        "status",
        "channel",
        "customer",
        "unit",
        "department",
        "assignee",
        "reassign_reason",
        "deadline",
        "description",
        "resolution",
    ]
    edit_form_extra_fields = {"reassign_reason": TextAreaField(_("Reason for reassignment"))}
    show_columns = [
        "number",
        "title",
        "type",
        "priority",
        "status",
        "channel",
        "customer",
        "unit",
        "department",
        "assignee",
        "deadline",
        "description",
        "resolution",
        "preferred_visit_at",
        "response_due",
        "resolution_due",
        "responded_at",
        "resolved_at",
        "closed_at",
        "escalation_level",
        "created_by",
        "created_at",
        "updated_by",
        "updated_at",
    ]
    search_columns = [
        "number",
        "title",
        "type",
        "priority",
        "status",
        "channel",
        "department",
        "assignee",
        "deadline",
        "created_at",
        "resolved_at",
    ]
    order_columns = [
        "number",
        "title",
        "type",
        "priority",
        "status",
        "customer",
        "unit",
        "department",
        "assignee",
        "deadline",
        "created_at",
    ]
    base_order = ("created_at", "desc")
    quick_search = ("number", "title", "description", "customer.name", "customer.phone", "unit.number")
    unit_filters = True
    related_views = [TicketEventView, TicketAttachmentView, CommunicationView]
    # the number opens the ticket's work page (timeline and one-click actions)
    formatters_columns = {
        "number": lambda number: (
            Markup('<a href="{}">{}</a>').format(url_for("TicketWorkView.work", number=number), number)
            if number
            else ""
        )
    }
    # intake in one step: photos with the ticket, the customer's units and open tickets on choosing them
    add_template = "crm/ticket_add.html"
    add_form_extra_fields = {
        "photos": MultipleFileField(
            _("Photos and files"),
            validators=[uploads_validator],
            render_kw={"accept": ",".join("." + kind for kind in DOCUMENTS)},
            description=_("Photos of the problem, or other files; they are saved with the ticket."),
        )
    }
    method_permission_name = dict(CrmView.method_permission_name, intake="create")

    def process_form(self, form, is_created):
        # the files are not a column of the ticket: taken off the form before it fills the record
        if is_created and "photos" in form:
            g.crm_intake_uploads = [f for f in form.photos.data or () if f and f.filename]
            del form["photos"]
        super().process_form(form, is_created)

    def pre_add(self, item):
        super().pre_add(item)
        uploads = g.pop("crm_intake_uploads", [])
        if uploads and not self.appbuilder.sm.has_access("can_create", RESOURCE_TICKET_ATTACHMENT):
            raise DomainError(_("You may not attach files to tickets."))
        g.crm_intake_files = []
        for upload in uploads:  # checked by the form already; stored now, removed if the ticket is not saved
            g.crm_intake_files.append(
                save_upload(upload, current_app.config["UPLOAD_FOLDER"], max_upload_bytes(), DOCUMENTS)
            )
        attach_files(item, g.crm_intake_files)

    def post_add(self, item):
        super().post_add(item)
        g.crm_intake_saved = True
        g.crm_added_message = Markup('{} <a href="{}">{}</a>').format(
            _("Ticket %(number)s registered.", number=item.number),
            url_for("TicketWorkView.work", number=item.number),
            _("Open the ticket"),
        )

    @property
    def add_row_message(self):
        """After saving, the desk reads the new ticket's number and can open it."""
        return g.pop("crm_added_message", None) or CrmView.add_row_message

    def _add(self):
        try:
            return super()._add()
        finally:
            stored = g.pop("crm_intake_files", None)
            if stored and not g.pop("crm_intake_saved", False):
                remove_stored(current_app.config["UPLOAD_FOLDER"], stored)  # no ticket, no stray files

    @expose("/intake")
    @has_access
    def intake(self):
        """JSON for the new-ticket form: the chosen customer's units and open tickets, as this user may
        see them (rows by their scope, fields by their levels)."""
        customer_id = request.args.get("customer", type=int)
        sm = self.appbuilder.sm
        if customer_id is None or not sm.has_access("can_read", RESOURCE_CUSTOMER):
            return jsonify(units=[], tickets=[])
        units, tickets = intake_context(
            db.session,
            customer_id,
            local_today(),
            with_units=sm.has_access("can_read", RESOURCE_RESIDENCE) and sm.has_access("can_read", RESOURCE_UNIT),
        )
        unit_access = sm.field_access(RESOURCE_UNIT)

        def ticket(row):
            number, status = shown_value(row, "number"), shown_value(row, "status")
            return {
                "number": number,
                "title": shown_value(row, "title"),
                "status": types.TICKET_STATUSES.label(status) if status else "",
                # the link carries the number: only when the number itself is shown in clear
                "url": url_for("TicketWorkView.work", number=row.number) if number == row.number else "",
            }

        return jsonify(
            units=[{"id": unit.id, "text": unit_access.shown_as_text(unit)} for unit in units],
            tickets=[ticket(row) for row in tickets],
        )


def _current_user_id():
    return g.user.id


class FilterCriteria(BaseFilter):
    """A list's fixed filter given by a domain function's criteria (the same rows the phone lists)."""

    name = "Filter by a domain rule"
    arg_name = "crit"

    def apply(self, query, criteria):
        return query.filter(*criteria())


class MyTodoView(TicketView):
    """我的待办: my open tickets by deadline (overdue first), with one-click start."""

    datamodel = CrmInterface(models.Ticket)  # its own: the list columns decide eager loading
    list_title = _("My to-do")
    list_columns = ["number", "title", "type", "priority", "status", "customer", "unit", "deadline", "escalation_level"]
    base_filters = [["id", FilterCriteria, lambda: my_open_criteria(_current_user_id())]]
    base_order = ("deadline", "asc")
    related_views = []

    @action("start", _("Start work"), icon="fa-play", multiple=True, single=True)
    def start(self, items):
        items = items if isinstance(items, list) else [items]
        started = 0
        for ticket in items:
            try:
                start_work(db.session, ticket)
                started += 1
            except DomainError as error:
                db.session.rollback()
                flash(f"{ticket.number}: {error}", "danger")
        if started:
            flash(str(_("%(count)s tickets started.", count=started)), "success")
        return redirect(url_for(".list"))


class LoggedByMeView(TicketView):
    """我登记的工单: the tickets I logged, newest first, to follow them up (scoped like every ticket list)."""

    datamodel = CrmInterface(models.Ticket)  # its own: the list columns decide eager loading
    list_title = _("Tickets I logged")
    list_columns = [
        "number",
        "title",
        "type",
        "priority",
        "status",
        "customer",
        "unit",
        "department",
        "assignee",
        "created_at",
    ]
    base_filters = [["created_by_id", FilterEqualFunction, _current_user_id]]
    base_order = ("created_at", "desc")
    related_views = []


class TicketWorkView(BaseView):
    """工单处理: one ticket's details, due times and full timeline (with files), and the handler's
    one-click actions: start, add a note or file, resolve with the result, reassign with a reason."""

    route_base = "/ticketwork"
    default_view = "work"
    class_permission_name = RESOURCE_TICKET
    method_permission_name = {
        "work": "read",
        "start": "edit",
        "note": "edit",
        "resolve": "edit",
        "reassign": "edit",
        "inspection": "edit",
    }

    def _ticket(self, number):
        ticket = ticket_by_number(db.session, number)
        if ticket is None:
            abort(404)
        return ticket

    def _done(self, number, call, success):
        try:
            call()
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "danger")
        else:
            flash(str(success), "success")
        return redirect(url_for(".work", number=number))

    @expose("/<number>")
    @has_access
    def work(self, number):

        ticket = self._ticket(number)
        sm = self.appbuilder.sm
        events = []
        if sm.has_access("can_read", "TicketEvent"):  # the history is a model of its own, granted apart
            events = ticket_history(db.session, ticket)
        attachments = ticket.attachments if sm.has_access("can_read", "TicketAttachment") else []
        actions = ticket_actions(db.session, ticket, g.user.id, sm.has_access("can_edit", RESOURCE_TICKET))
        staff = []
        if actions["can_reassign"]:
            staff = handlers(db.session)
        return self.render_template(
            "crm/ticket_work.html",
            ticket=ticket,
            events=events,
            attachments=attachments,
            staff=staff,
            now=utcnow(),
            can_start=actions["can_start"],
            can_resolve=actions["can_resolve"],
            can_note=actions["can_note"],
            can_reassign=actions["can_reassign"],
            original_name=original_name,
            choices=types,
            remaining=remaining_text,
            person=person_name,
            maintenance=ticket.maintenance[0] if ticket.maintenance else None,
        )

    @expose("/<number>/start", methods=["POST"])
    @has_access
    def start(self, number):
        ticket = self._ticket(number)
        return self._done(number, lambda: start_work(db.session, ticket), _("Work started."))

    @expose("/<number>/resolve", methods=["POST"])
    @has_access
    def resolve(self, number):

        ticket = self._ticket(number)
        return self._done(
            number,
            lambda: resolve(db.session, ticket, request.form.get("resolution")),
            _("Resolved; the customer will be notified."),
        )

    @expose("/<number>/reassign", methods=["POST"])
    @has_access
    def reassign(self, number):

        ticket = self._ticket(number)
        assignee = request.form.get("assignee", type=int)
        return self._done(
            number, lambda: reassign(db.session, ticket, assignee, request.form.get("reason")), _("Reassigned.")
        )

    @expose("/<number>/note", methods=["POST"])
    @has_access
    def note(self, number):

        ticket = self._ticket(number)

        def save():
            add_note_with_files(
                db.session,
                ticket,
                request.form.get("note"),
                [request.files.get("file")],
                current_app.config["UPLOAD_FOLDER"],
                max_upload_bytes(),
                utcnow(),
                visible_to_customer=request.form.get("visible_to_customer") == "1",
            )

        return self._done(number, save, _("Note added."))

    @expose("/<number>/inspection", methods=["POST"])
    @has_access
    def inspection(self, number):
        """A maintenance work order's inspection result and readings (app.facilities.maintenance)."""

        ticket = self._ticket(number)
        if not ticket.maintenance:
            abort(404)
        return self._done(
            number,
            lambda: record_inspection(
                db.session,
                ticket.maintenance[0],
                request.form.get("result"),
                request.form.get("readings"),
                g.user.id,
                utcnow(),
            ),
            _("Inspection recorded."),
        )


class PendingPoolView(TicketView):
    """待处理诉求: tickets no one has been given yet, oldest first, for dispatchers."""

    datamodel = CrmInterface(models.Ticket)
    list_title = _("Pending tickets")
    # the channel says at a glance which requests residents sent from their phones (微信/网页)
    list_columns = [
        "number",
        "title",
        "type",
        "channel",
        "priority",
        "department",
        "customer",
        "unit",
        "deadline",
        "created_at",
    ]
    base_filters = [["id", FilterCriteria, pending_criteria]]
    base_order = ("created_at", "asc")
    related_views = []


class TicketRatingView(CrmView):
    datamodel = CrmInterface(models.TicketRating)
    class_permission_name = RESOURCE_TICKET_RATING
    list_columns = ["ticket", "stars", "comment", "source", "rated_at", "recorded_by"]
    add_columns = ["ticket", "stars", "comment", "source"]
    edit_columns = ["comment"]
    show_columns = list_columns
    search_columns = ["stars", "source", "rated_at"]
    order_columns = ["stars", "rated_at", "source"]
    base_order = ("rated_at", "desc")

    # staff record what the customer told them (by phone, in person); the link is the customer's own
    add_form_extra_fields = {"source": choice_select(_("Source"), STAFF_RATING_SOURCES, True, "phone")}

    def pre_add(self, item):

        item.recorded_by_id = g.user.id
        try:
            item.stars = check_rating(db.session, item.ticket, item.stars, item.source, item.recorded_by_id)
        except DomainError:
            db.session.rollback()  # FAB shows the message; the refused rating must not flush later
            raise
