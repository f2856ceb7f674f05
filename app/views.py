"""Model pages: declarations of columns, search, order and related lists; no business logic."""

from flask import abort, current_app, flash, g, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import FilterEqualFunction
from flask_babel import LazyString, lazy_gettext as _
from markupsafe import Markup
from wtforms import MultipleFileField, TextAreaField
from wtforms.validators import NumberRange

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app import models
from app.core.errors import DomainError
from app.notices.notify import variables_help
from app.tickets.ratings import STAFF_SOURCES as STAFF_RATING_SOURCES
from app.core.extensions import db
from app.core import column_types as types
from app.tickets.sla import remaining_text
from app.core.column_types import utcnow
from app.tickets.lifecycle import (
    attach_files,
    intake_context,
    my_open_criteria,
    pending_criteria,
    start_work,
    ticket_by_number,
)
from app.notices.views import BroadcastLinkView, BroadcastView
from app.activities.views import ACTIVITY_HIDDEN, ACTIVITY_MENU
from app.care.views import CARE_HIDDEN, CARE_MENU, FACILITY_MENU, CareRemindersView, SurveyAnswerPage
from app.admin.views import (
    ExportDownloadView,
    FieldPermissionView,
    ImportView,
    InboxView,
    PasswordResetView,
    PerformanceView,
    RatingView,
    TaskView,
)
from app.core.people import person_name
from app.policy.attachments import ALLOWED, DOCUMENTS, remove_stored, save_upload
from app.core.clock import local_today
from app.web.crud import (
    AttachmentField,
    CrmInterface,
    CrmView,
    LookupView,
    choice_select,
    max_upload_bytes,
    uploads_validator,
)
from app.policy.field_permissions import shown_value
from app.policy.principal import current_principal
from app.core.labels import COLUMN_LABELS, MODEL_LABELS, resource_label
from app.policy.security import (
    RESOURCE_BILL,
    RESOURCE_BUILDING,
    RESOURCE_COMMUNICATION,
    RESOURCE_CUSTOMER,
    RESOURCE_DEPARTMENT,
    RESOURCE_DISPATCH_RULE,
    RESOURCE_ACCOUNT_SECURITY,
    RESOURCE_ARREARS,
    RESOURCE_BILLING_RUN,
    RESOURCE_CHANGE_LOG,
    RESOURCE_DUTY_SHIFT,
    RESOURCE_FEE_RULE,
    RESOURCE_METER_READING,
    RESOURCE_WRITE_OFF,
    RESOURCE_MESSAGE_TEMPLATE,
    RESOURCE_OUTBOX,
    RESOURCE_SLA_POLICY,
    RESOURCE_PAYMENT,
    RESOURCE_RESIDENCE,
    RESOURCE_STAFF,
    RESOURCE_TAG,
    RESOURCE_TICKET,
    RESOURCE_TICKET_ATTACHMENT,
    RESOURCE_TICKET_EVENT,
    RESOURCE_TICKET_RATING,
    RESOURCE_UNIT,
)


class ResidenceView(CrmView):
    datamodel = CrmInterface(models.CustomerUnit)
    class_permission_name = RESOURCE_RESIDENCE
    list_columns = ["customer", "unit", "relation", "move_in", "move_out"]
    add_columns = edit_columns = ["customer", "unit", "relation", "move_in", "move_out"]
    show_columns = list_columns
    search_columns = ["relation", "move_in", "move_out"]
    order_columns = ["customer", "unit", "relation", "move_in", "move_out"]


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


class PaymentView(CrmView):
    datamodel = CrmInterface(models.Payment)
    class_permission_name = RESOURCE_PAYMENT
    label_columns = {"kind": _("Type")}
    base_permissions = ["can_read", "can_create", "can_reverse", "can_export"]  # never edited or deleted
    list_columns = ["receipt_number", "kind", "bill", "amount", "method", "paid_at"]
    add_columns = ["bill", "amount", "method", "paid_at", "notes"]
    show_columns = [
        "receipt_number",
        "kind",
        "bill",
        "amount",
        "method",
        "paid_at",
        "notes",
        "reverses",
        "reason",
        "created_by",
        "created_at",
    ]
    search_columns = ["receipt_number", "kind", "method", "paid_at"]
    order_columns = ["receipt_number", "amount", "paid_at", "method"]
    base_order = ("paid_at", "desc")

    @action("reverse", _("Reverse"), icon="fa-undo", multiple=False, single=True)
    def reverse_action(self, item):
        return redirect(url_for(".reverse", pk=item.id))

    @expose("/reverse/<int:pk>", methods=["GET", "POST"])
    @has_access
    def reverse(self, pk):
        """冲正: take a payment back in full, with the reason (app.billing.payments.reverse_payment: one paid
        online is refunded at its gateway first)."""
        from app.billing.payments import reverse_payment

        payment = db.session.get(models.Payment, pk)
        if payment is None:
            abort(404)
        if request.method == "POST":
            try:
                reversal = reverse_payment(
                    db.session, payment, request.form.get("reason"), utcnow(), current_app.config
                )
            except DomainError as error:
                db.session.rollback()
                flash(str(error), "danger")
            else:
                flash(
                    str(
                        _(
                            "Payment %(receipt)s reversed by %(reversal)s.",
                            receipt=payment.receipt_number,
                            reversal=reversal.receipt_number,
                        )
                    ),
                    "success",
                )
                return redirect(url_for(".show", pk=reversal.id))
        return self.render_template("crm/reverse_payment.html", payment=payment)


class PaymentOrderView(CrmView):
    """在线缴费订单: what residents paid online and what the gateway said (read only; whoever reads payments)."""

    datamodel = CrmInterface(models.PaymentOrder)
    class_permission_name = RESOURCE_PAYMENT
    base_permissions = ["can_read"]
    list_columns = ["out_trade_no", "bill", "amount", "status", "gateway", "paid_at", "notified_count"]
    show_columns = [
        "out_trade_no",
        "customer",
        "bill",
        "amount",
        "status",
        "gateway",
        "transaction_id",
        "payment",
        "created_at",
        "paid_at",
        "notified_count",
        "refunded_amount",
        "refund_id",
        "refund_status",
        "refunded_at",
    ]
    search_columns = ["out_trade_no", "status", "gateway", "paid_at"]
    order_columns = ["out_trade_no", "amount", "paid_at", "created_at"]
    base_order = ("created_at", "desc")


class PaymentNotificationView(CrmView):
    """支付通知: every notification a gateway sent, with what became of it and why (read only)."""

    datamodel = CrmInterface(models.PaymentNotification)
    class_permission_name = RESOURCE_PAYMENT
    base_permissions = ["can_read"]
    list_columns = ["received_at", "gateway", "out_trade_no", "outcome", "reason"]
    show_columns = list_columns + ["remote_addr"]
    search_columns = ["out_trade_no", "gateway", "outcome", "received_at"]
    order_columns = ["received_at"]
    base_order = ("received_at", "desc")


class BillView(CrmView):
    datamodel = CrmInterface(models.Bill)
    class_permission_name = RESOURCE_BILL
    list_columns = ["period", "customer", "unit", "fee_type", "amount", "paid_amount", "status", "due_date"]
    add_columns = edit_columns = ["customer", "unit", "period", "fee_type", "amount", "due_date", "notes"]
    show_columns = [
        "period",
        "customer",
        "unit",
        "fee_type",
        "amount",
        "paid_amount",
        "outstanding",
        "status",
        "due_date",
        "notes",
        "created_at",
    ]
    search_columns = ["period", "fee_type", "status", "due_date", "amount"]
    order_columns = ["period", "customer", "unit", "fee_type", "amount", "paid_amount", "status", "due_date"]
    base_order = ("due_date", "desc")
    quick_search = ("period", "customer.name", "customer.phone", "unit.number")
    unit_filters = True
    related_views = [PaymentView, PaymentOrderView]


class FeeRuleView(CrmView):
    datamodel = CrmInterface(models.FeeRule)
    class_permission_name = RESOURCE_FEE_RULE
    label_columns = {"method": _("Calculation"), "name": _("Name")}
    list_columns = [
        "name",
        "fee_type",
        "method",
        "price",
        "tiers",
        "building",
        "unit_use",
        "bill_to",
        "effective_from",
        "effective_to",
        "due_day",
    ]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["name", "fee_type", "method", "building", "unit_use", "effective_from"]
    order_columns = ["name", "fee_type", "method", "price", "effective_from", "due_day"]
    base_order = ("effective_from", "desc")
    description_columns = {
        "price": _("Per m² per month, per unit per month, or per unit of use (metered, no tiers)."),
        "tiers": _("Metered only, optional: e.g. 20:3.50, 40:4.20, :5.00 (up to 20 at 3.50 …, beyond at 5.00)."),
        "building": _("Leave empty for every building; a building's own rule overrides the general one."),
        "due_day": _("Day of the billed month the bill falls due (1–28)."),
    }


class MeterReadingView(CrmView):
    datamodel = CrmInterface(models.MeterReading)
    class_permission_name = RESOURCE_METER_READING
    list_columns = ["period", "unit", "fee_type", "previous_reading", "reading", "usage"]
    add_columns = edit_columns = ["unit", "fee_type", "period", "previous_reading", "reading"]
    show_columns = ["period", "unit", "fee_type", "previous_reading", "reading", "usage", "created_at"]
    search_columns = ["period", "unit", "fee_type"]
    order_columns = ["period", "unit", "fee_type", "reading"]
    base_order = ("period", "desc")
    quick_search = ("period", "unit.number", "unit.building.name")


class BillingRunView(CrmView):
    """账单生成: start a period's generation and see what each run did."""

    datamodel = CrmInterface(models.BillingRun)
    class_permission_name = RESOURCE_BILLING_RUN
    base_permissions = ["can_read", "can_create"]
    list_columns = ["period", "status", "created", "existing", "problem_count", "started_at", "finished_at", "actor"]
    show_columns = list_columns + ["problems"]
    search_columns = ["period", "status", "started_at"]
    order_columns = ["period", "started_at", "created", "problem_count"]
    base_order = ("started_at", "desc")

    @expose("/generate", methods=["GET", "POST"])
    @has_access
    def generate(self):
        """The period's bills are generated by the scheduler as a background task (app.billing.bills.BillRunTask):
        the request queues it and the page shows its progress (?task=<id>), then its result."""
        from app.core.clock import local_now
        from app.core.errors import DomainError
        from app.admin.tasks import enqueue, task_for

        period = (request.values.get("period") or local_now().strftime("%Y-%m")).strip()
        task = None
        if request.method == "POST":
            try:
                task = enqueue(db.session, g.user, "bill_run", {"period": period}, utcnow())
            except DomainError as error:
                db.session.rollback()
                flash(str(error), "danger")
            else:
                return redirect(url_for(".generate", period=period, task=task.id))
        elif request.args.get("task", "").isdigit():
            task = task_for(db.session, int(request.args["task"]), g.user.id)
        return self.render_template("crm/generate_bills.html", period=period, task=task)


class WriteOffView(CrmView):
    """核销审批: requests to write off what a customer owes; a supervisor or admin decides."""

    datamodel = CrmInterface(models.WriteOff)
    class_permission_name = RESOURCE_WRITE_OFF
    base_permissions = ["can_read", "can_create", "can_approve", "can_export"]
    list_columns = ["bill", "amount", "reason", "status", "requested_by", "requested_at", "decided_by", "decided_at"]
    add_columns = ["bill", "amount", "reason"]
    show_columns = list_columns
    search_columns = ["status", "requested_at", "decided_at"]
    order_columns = ["amount", "status", "requested_at", "decided_at"]
    base_order = ("requested_at", "desc")

    def _decide(self, items, approve):
        from app.billing.bills import decide_write_off

        items = items if isinstance(items, list) else [items]
        done = 0
        for item in items:
            try:
                decide_write_off(db.session, item, approve, utcnow())
                done += 1
            except DomainError as error:
                flash(f"{item.bill}: {error}", "danger")
        if done:
            flash(str(_("%(count)s write-offs decided.", count=done)), "success")
        return redirect(url_for(".list"))

    @action("approve", _("Approve"), _("Approve the selected write-offs?"), "fa-check", multiple=True, single=True)
    def approve(self, items):
        return self._decide(items, True)

    @action("reject", _("Reject"), _("Reject the selected write-offs?"), "fa-times", multiple=True, single=True)
    def reject(self, items):
        return self._decide(items, False)


class ChangeLogView(CrmView):
    """操作日志: every change to every record, newest first; one record's history from its page."""

    datamodel = CrmInterface(models.ChangeLog)
    class_permission_name = RESOURCE_CHANGE_LOG
    base_permissions = ["can_read", "can_export"]
    list_columns = ["at", "actor", "action", "resource", "record_id", "summary", "ip"]
    show_columns = list_columns + ["changes"]
    search_columns = ["at", "actor", "action", "resource", "record_id", "summary", "ip"]
    order_columns = ["at", "resource", "record_id"]
    base_order = ("id", "desc")
    formatters_columns = {"resource": resource_label}

    @expose("/record/<resource>/<int:record_id>")
    @has_access
    def record(self, resource, record_id):
        from app.policy.audit import decoded, describe, history

        entries = [(entry, decoded(entry)) for entry in history(db.session, resource, record_id)]
        return self.render_template(
            "crm/change_history.html",
            entries=entries,
            resource=resource,
            record_id=record_id,
            model_label=MODEL_LABELS.get(resource, resource),
            labels=COLUMN_LABELS,
            choices=types.CHANGE_ACTIONS,
            person=person_name,
            describe=describe,
        )


class AccountSecurityView(CrmView):
    """账号安全: failed logins and locks; an admin unlocks an account."""

    datamodel = CrmInterface(models.AccountSecurity)
    class_permission_name = RESOURCE_ACCOUNT_SECURITY
    base_permissions = ["can_read", "can_edit"]
    list_columns = ["user", "failed_logins", "last_failure_at", "locked_until"]
    show_columns = list_columns
    search_columns = ["user", "locked_until"]
    order_columns = ["failed_logins", "last_failure_at", "locked_until"]
    base_order = ("last_failure_at", "desc")

    @action("unlock", _("Unlock"), _("Unlock the selected accounts?"), "fa-unlock", multiple=True, single=True)
    def unlock(self, items):
        from app.policy.accounts import unlock

        items = items if isinstance(items, list) else [items]
        for item in items:
            unlock(db.session, item.user_id)
        flash(str(_("%(count)s accounts unlocked.", count=len(items))), "success")
        return redirect(url_for(".list"))


class ArrearsView(BaseView):
    """欠费分析: what is overdue, by building and by customer, in aging buckets (one SQL query each)."""

    route_base = "/arrears"
    default_view = "report"
    class_permission_name = RESOURCE_ARREARS
    method_permission_name = {"report": "read"}
    page_size = 50

    @expose("/")
    @has_access
    def report(self):
        from app.billing.bills import AGING_BUCKETS, arrears_by_building, arrears_by_customer
        from app.core.clock import local_today

        today = local_today()
        building_id = request.args.get("building", type=int)
        page = max(request.args.get("page", 1, type=int) or 1, 1)
        buildings = arrears_by_building(db.session, today, customers=True)
        customers = arrears_by_customer(db.session, today, building_id, self.page_size + 1, (page - 1) * self.page_size)
        buckets = [f"{low}–{high}" if high else f"{low - 1}+" for low, high in AGING_BUCKETS]
        return self.render_template(
            "crm/arrears.html",
            buildings=buildings,
            customers=customers[: self.page_size],
            more=len(customers) > self.page_size,
            page=page,
            building_id=building_id,
            buckets=buckets,
            today=today,
        )


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
        from app.policy.attachments import original_name
        from app.tickets.lifecycle import handlers, ticket_actions

        ticket = self._ticket(number)
        sm = self.appbuilder.sm
        events = []
        if sm.has_access("can_read", "TicketEvent"):  # the history is a model of its own, granted apart
            events = (
                db.session.execute(
                    select(models.TicketEvent)
                    .options(joinedload(models.TicketEvent.actor))
                    .where(models.TicketEvent.ticket_id == ticket.id)
                    .order_by(models.TicketEvent.id)
                )
                .scalars()
                .all()
            )
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
        from app.tickets.lifecycle import resolve

        ticket = self._ticket(number)
        return self._done(
            number,
            lambda: resolve(db.session, ticket, request.form.get("resolution")),
            _("Resolved; the customer will be notified."),
        )

    @expose("/<number>/reassign", methods=["POST"])
    @has_access
    def reassign(self, number):
        from app.tickets.lifecycle import reassign

        ticket = self._ticket(number)
        assignee = request.form.get("assignee", type=int)
        return self._done(
            number, lambda: reassign(db.session, ticket, assignee, request.form.get("reason")), _("Reassigned.")
        )

    @expose("/<number>/note", methods=["POST"])
    @has_access
    def note(self, number):
        from app.tickets.lifecycle import add_note_with_files

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
        from app.facilities.maintenance import record_inspection

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
        from app.tickets.ratings import check_rating

        item.recorded_by_id = g.user.id
        try:
            item.stars = check_rating(db.session, item.ticket, item.stars, item.source, item.recorded_by_id)
        except DomainError:
            db.session.rollback()  # FAB shows the message; the refused rating must not flush later
            raise


class UnitView(CrmView):
    datamodel = CrmInterface(models.Unit)
    class_permission_name = RESOURCE_UNIT
    list_columns = ["building", "number", "floor", "area", "layout", "use", "status"]
    add_columns = edit_columns = ["building", "number", "floor", "area", "layout", "use", "status", "notes"]
    show_columns = add_columns + ["created_at", "updated_at"]
    search_columns = ["building", "number", "floor", "area", "layout", "use", "status"]
    order_columns = ["building", "number", "floor", "area", "layout", "use", "status"]
    base_order = ("id", "asc")
    quick_search = ("number", "building.name", "layout")
    unit_filters = True
    related_views = [ResidenceView, TicketView, BillView]


class BuildingView(CrmView):
    datamodel = CrmInterface(models.Building)
    class_permission_name = RESOURCE_BUILDING
    list_columns = ["code", "name", "address", "floors"]
    add_columns = edit_columns = ["code", "name", "address", "floors", "notes"]
    show_columns = add_columns + ["created_at", "updated_at"]
    search_columns = ["code", "name", "address", "floors"]
    order_columns = ["code", "name", "floors"]
    base_order = ("code", "asc")
    quick_search = ("name", "code", "address")
    related_views = [UnitView]


class CustomerView(CrmView):
    datamodel = CrmInterface(models.Customer)
    class_permission_name = RESOURCE_CUSTOMER
    label_columns = {"name": _("Full name")}
    list_columns = ["name", "phone", "type", "status", "tags", "units", "created_at"]
    add_columns = edit_columns = [
        "name",
        "gender",
        "birthday",
        "phone",
        "email",
        "id_number",
        "occupation",
        "type",
        "status",
        "tags",
        "preferred_channel",
        "wechat_openid",
        "notes",
    ]
    show_columns = [
        "name",
        "gender",
        "birthday",
        "phone",
        "email",
        "id_number",
        "occupation",
        "type",
        "status",
        "tags",
        "preferred_channel",
        "wechat_openid",
        "notes",
        "created_at",
        "updated_at",
    ]
    search_columns = ["name", "phone", "type", "status", "tags", "gender", "birthday", "email", "created_at"]
    order_columns = ["name", "phone", "type", "status", "created_at"]
    base_order = ("id", "desc")
    # the user manual: customers are found by name, room number or phone from one search box
    quick_search = ("name", "phone", "units.unit.number")
    unit_filters = True
    related_views = [ResidenceView, TicketView, CommunicationView, BillView]

    @action("open_timeline", _("Customer timeline"), icon="fa-stream", multiple=False, single=True)
    def open_timeline(self, item):
        return redirect(url_for(".timeline", pk=item.id))

    @expose("/timeline/<int:pk>")
    @has_access
    def timeline(self, pk):
        """客户时间线: tickets, communications, bills, payments and messages, newest first."""
        from app.customers.timeline import customer_timeline

        customer = db.session.get(models.Customer, pk) or abort(404)
        return self.render_template(
            "crm/customer_timeline.html",
            customer=customer,
            entries=customer_timeline(db.session, customer.id, current_principal()),
        )


class TagView(CrmView):
    datamodel = CrmInterface(models.Tag)
    class_permission_name = RESOURCE_TAG
    list_columns = ["name", "color", "description"]
    add_columns = edit_columns = show_columns = ["name", "color", "description"]
    search_columns = ["name", "description"]
    order_columns = ["name"]
    base_order = ("name", "asc")


class StaffProfileView(CrmView):
    datamodel = CrmInterface(models.StaffProfile)
    class_permission_name = RESOURCE_STAFF
    list_columns = ["user", "department", "phone", "on_duty", "on_leave", "max_open_tickets", "buildings"]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["department", "phone", "on_duty", "on_leave", "buildings"]
    order_columns = ["user", "department", "on_duty", "max_open_tickets"]


class DepartmentView(CrmView):
    datamodel = CrmInterface(models.Department)
    class_permission_name = RESOURCE_DEPARTMENT
    list_columns = ["name", "phone", "description"]
    add_columns = edit_columns = show_columns = ["name", "phone", "description"]
    search_columns = ["name", "phone"]
    order_columns = ["name"]
    base_order = ("name", "asc")
    related_views = [StaffProfileView, TicketView]


class DispatchRuleView(CrmView):
    datamodel = CrmInterface(models.DispatchRule)
    class_permission_name = RESOURCE_DISPATCH_RULE
    list_columns = ["ticket_type", "building", "unit_use", "department"]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["ticket_type", "building", "unit_use", "department"]
    order_columns = ["ticket_type", "building", "department"]


class DutyShiftView(CrmView):
    datamodel = CrmInterface(models.DutyShift)
    class_permission_name = RESOURCE_DUTY_SHIFT
    label_columns = {"staff": _("Staff")}
    list_columns = ["staff", "weekday", "start_minute", "end_minute"]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["staff", "weekday"]
    order_columns = ["staff", "weekday", "start_minute"]


class SlaPolicyView(CrmView):
    datamodel = CrmInterface(models.SlaPolicy)
    class_permission_name = RESOURCE_SLA_POLICY
    list_columns = ["ticket_type", "priority", "response_minutes", "resolution_minutes"]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["ticket_type", "priority"]
    order_columns = ["ticket_type", "priority", "response_minutes", "resolution_minutes"]


class SystemSettingView(CrmView):
    """系统参数: defaults the firm may change (the service-level fallback, the level-2 escalation
    delay), created by `crm init`; read and edited like the service levels (same permission)."""

    datamodel = CrmInterface(models.SystemSetting)
    class_permission_name = RESOURCE_SLA_POLICY
    base_permissions = ["can_read", "can_edit"]  # one row per setting, created by `crm init`
    list_columns = ["key", "meaning", "value"]
    show_columns = ["key", "meaning", "value"]
    edit_columns = ["value"]
    search_columns = ["key"]
    order_columns = ["key", "value"]
    label_columns = {"key": _("Setting"), "meaning": _("Meaning"), "value": _("Value (minutes)")}
    validators_columns = {"value": [NumberRange(min=1, message=_("Enter a whole number of minutes, at least 1."))]}


class MessageTemplateView(CrmView):
    """消息模板: the wording of each notice; the variables it may use are listed on the form."""

    datamodel = CrmInterface(models.MessageTemplate)
    class_permission_name = RESOURCE_MESSAGE_TEMPLATE
    base_permissions = ["can_read", "can_edit"]  # one row per notice kind, created by `crm init`
    list_columns = ["key", "subject", "active", "updated_at"]
    edit_columns = ["subject", "body", "active"]
    show_columns = ["key", "subject", "body", "active", "updated_at"]
    search_columns = ["key", "subject", "active"]
    order_columns = ["key", "subject", "updated_at"]

    description_columns = {"body": LazyString(lambda: str(_("Variables: %(names)s", names=variables_help())))}

    def check_record(self, item):
        from app.notices.notify import check_template

        check_template(item.key, item.subject, item.body)


class OutboxView(CrmView):
    """消息发件箱: every notice to customers, its channel, attempts and failures; failed ones can be resent."""

    datamodel = CrmInterface(models.OutboxMessage)
    class_permission_name = RESOURCE_OUTBOX
    label_columns = {"address": _("Recipient"), "user": _("Staff member"), "body_for_staff": _("Content")}
    base_permissions = ["can_read", "can_edit"]
    list_columns = [
        "created_at",
        "customer",
        "template_key",
        "channel",
        "address",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
    ]
    show_columns = [
        "created_at",
        "customer",
        "user",
        "template_key",
        "channel",
        "address",
        "fallback",
        "subject",
        "body_for_staff",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "log",
    ]
    search_columns = ["status", "channel", "template_key", "created_at", "sent_at"]
    order_columns = ["created_at", "status", "channel", "sent_at", "next_attempt_at"]
    base_order = ("created_at", "desc")
    quick_search = ("subject", "address", "customer.name")

    @action(
        "resend", _("Send again"), _("Send the selected failed messages again?"), "fa-redo", multiple=True, single=True
    )
    def resend(self, items):
        from app.notices.notify import retry_failed
        from app.core.column_types import utcnow

        items = items if isinstance(items, list) else [items]
        count = retry_failed(db.session, [item.id for item in items], utcnow())
        flash(
            str(_("%(count)s messages queued again; messages already sent are never resent.", count=count)), "success"
        )
        return redirect(url_for(".list"))


# (menu name, view, label, icon, category, category label, category icon); the menu staff know
MENU = (
    [
        (
            "Customers",
            CustomerView,
            _("Customer list"),
            "fa-address-card",
            "CustomerManagement",
            _("Customer management"),
            "fa-users",
        ),
        (
            "Residences",
            ResidenceView,
            _("Residences"),
            "fa-home",
            "CustomerManagement",
            _("Customer management"),
            "fa-users",
        ),
        (
            "Communications",
            CommunicationView,
            _("Communication records"),
            "fa-comments",
            "CustomerManagement",
            _("Customer management"),
            "fa-users",
        ),
        ("Tags", TagView, _("Customer tags"), "fa-tags", "CustomerManagement", _("Customer management"), "fa-users"),
        (
            "Broadcasts",
            BroadcastView,
            _("Broadcasts"),
            "fa-bullhorn",
            "CustomerManagement",
            _("Customer management"),
            "fa-users",
        ),
        ("Buildings", BuildingView, _("Buildings"), "fa-building", "Property", _("Property"), "fa-city"),
        ("Units", UnitView, _("Units"), "fa-door-open", "Property", _("Property"), "fa-city"),
        ("MyTodo", MyTodoView, _("My to-do"), "fa-tasks", "ServiceCenter", _("Service center"), "fa-headset"),
        (
            "LoggedByMe",
            LoggedByMeView,
            _("Tickets I logged"),
            "fa-clipboard-list",
            "ServiceCenter",
            _("Service center"),
            "fa-headset",
        ),
        (
            "PendingPool",
            PendingPoolView,
            _("Pending tickets"),
            "fa-inbox",
            "ServiceCenter",
            _("Service center"),
            "fa-headset",
        ),
        ("Tickets", TicketView, _("Tickets"), "fa-wrench", "ServiceCenter", _("Service center"), "fa-headset"),
        ("Ratings", TicketRatingView, _("Ratings"), "fa-star", "ServiceCenter", _("Service center"), "fa-headset"),
        (
            "TicketEvents",
            TicketEventView,
            _("Ticket history"),
            "fa-history",
            "ServiceCenter",
            _("Service center"),
            "fa-headset",
        ),
        ("Bills", BillView, _("Bills"), "fa-file-invoice", "Billing", _("Billing"), "fa-yen-sign"),
        ("Payments", PaymentView, _("Payments"), "fa-money-bill", "Billing", _("Billing"), "fa-yen-sign"),
        ("WriteOffs", WriteOffView, _("Write-offs"), "fa-stamp", "Billing", _("Billing"), "fa-yen-sign"),
        ("BillingRuns", BillingRunView, _("Bill generation"), "fa-cogs", "Billing", _("Billing"), "fa-yen-sign"),
        (
            "MeterReadings",
            MeterReadingView,
            _("Meter readings"),
            "fa-tachometer-alt",
            "Billing",
            _("Billing"),
            "fa-yen-sign",
        ),
        ("FeeRules", FeeRuleView, _("Fee rules"), "fa-calculator", "Billing", _("Billing"), "fa-yen-sign"),
        ("Departments", DepartmentView, _("Departments"), "fa-sitemap", "Settings", _("System settings"), "fa-cogs"),
        ("Staff", StaffProfileView, _("Staff profiles"), "fa-id-badge", "Settings", _("System settings"), "fa-cogs"),
        ("DutyRoster", DutyShiftView, _("Duty roster"), "fa-calendar-alt", "Settings", _("System settings"), "fa-cogs"),
        (
            "DispatchRules",
            DispatchRuleView,
            _("Dispatch rules"),
            "fa-random",
            "Settings",
            _("System settings"),
            "fa-cogs",
        ),
        (
            "AccountSecurity",
            AccountSecurityView,
            _("Account security"),
            "fa-user-shield",
            "Settings",
            _("System settings"),
            "fa-cogs",
        ),
        ("ChangeLog", ChangeLogView, _("Change history"), "fa-history", "Settings", _("System settings"), "fa-cogs"),
        (
            "SlaPolicies",
            SlaPolicyView,
            _("Service levels"),
            "fa-stopwatch",
            "Settings",
            _("System settings"),
            "fa-cogs",
        ),
        (
            "SystemSettings",
            SystemSettingView,
            _("System parameters"),
            "fa-sliders-h",
            "Settings",
            _("System settings"),
            "fa-cogs",
        ),
        (
            "MessageTemplates",
            MessageTemplateView,
            _("Message templates"),
            "fa-envelope-open-text",
            "Settings",
            _("System settings"),
            "fa-cogs",
        ),
        ("Outbox", OutboxView, _("Outbox"), "fa-paper-plane", "ServiceCenter", _("Service center"), "fa-headset"),
    ]
    + [(name, view, label, icon, "Property", _("Property"), "fa-city") for name, view, label, icon in FACILITY_MENU]
    + [
        (name, view, label, icon, "CustomerCare", _("Customer care"), "fa-hand-holding-heart")
        for name, view, label, icon in CARE_MENU + ACTIVITY_MENU
    ]
)

# menu name -> resource whose read permission shows it (None: shown to every role)
MENU_RESOURCES = {name: view.class_permission_name for name, view, *_ in MENU}
MENU_RESOURCES.update({category: None for *_, category, _label, _icon in MENU})
MENU_RESOURCES["Import"] = "Import"
MENU_RESOURCES["Performance"] = "Performance"
MENU_RESOURCES["CareReminders"] = "CareReminders"
MENU_RESOURCES["Arrears"] = RESOURCE_ARREARS
MENU_RESOURCES["GenerateBills"] = RESOURCE_BILLING_RUN
MENU_RESOURCES.update(
    {
        "Dashboards": None,
        "Dashboard": "Dashboard",
        "ServiceReport": "Report",
        "CollectionReport": "Report",
        "DashboardWidgets": "DashboardWidget",
    }
)

HIDDEN_VIEWS = [TicketAttachmentView, PaymentOrderView, PaymentNotificationView] + CARE_HIDDEN + ACTIVITY_HIDDEN


def register_views(appbuilder):
    from flask import current_app

    from app.web.crud import (
        building_filter_here,
        format_datetime,
        list_columns_here,
        saved_views_here,
        unit_filters_here,
    )

    current_app.jinja_env.globals["crm_saved_views"] = saved_views_here
    current_app.jinja_env.globals["crm_list_columns"] = list_columns_here
    current_app.jinja_env.globals["crm_building_filter"] = building_filter_here
    current_app.jinja_env.globals["crm_unit_filters"] = unit_filters_here
    current_app.jinja_env.filters["crm_local_time"] = format_datetime
    current_app.jinja_env.filters["crm_broadcast_status"] = types.BROADCAST_STATUSES.label
    current_app.jinja_env.filters["crm_survey_status"] = types.SURVEY_STATUSES.label
    current_app.jinja_env.filters["crm_question_kind"] = types.QUESTION_KINDS.label
    current_app.jinja_env.filters["crm_renovation_status"] = types.RENOVATION_STATUSES.label
    current_app.jinja_env.filters["crm_ticket_type"] = types.TICKET_TYPES.label
    current_app.jinja_env.filters["crm_ticket_status"] = types.TICKET_STATUSES.label
    for name, view, label, icon, category, category_label, category_icon in MENU:
        appbuilder.add_view(
            view,
            name,
            label=label,
            icon=icon,
            category=category,
            category_label=category_label,
            category_icon=category_icon,
        )
    for view in HIDDEN_VIEWS:
        appbuilder.add_view_no_menu(view)
    LookupView.resources = {
        model.__tablename__: (model, view.class_permission_name)
        for model, view in [
            (models.Customer, CustomerView),
            (models.Unit, UnitView),
            (models.Bill, BillView),
            (models.Ticket, TicketView),
            (models.Building, BuildingView),
        ]
        + [
            (view.datamodel.obj, view)
            for _name, view, *_rest in CARE_MENU + FACILITY_MENU
            if getattr(view.datamodel.obj, "__lookup__", None)
        ]
    }
    appbuilder.add_view_no_menu(LookupView)
    appbuilder.add_view_no_menu(RatingView)
    appbuilder.add_view_no_menu(InboxView)
    appbuilder.add_view_no_menu(ExportDownloadView)
    appbuilder.add_view_no_menu(TaskView)
    appbuilder.add_view_no_menu(PasswordResetView)
    appbuilder.add_view_no_menu(TicketWorkView)
    appbuilder.add_view_no_menu(BroadcastLinkView)
    appbuilder.add_view_no_menu(SurveyAnswerPage)
    fields = {}
    for _name, view, *_rest in MENU:  # every field any page of the resource shows or edits
        columns = fields.setdefault(view.class_permission_name, {})
        for cols in (view.list_columns, view.show_columns, view.add_columns, view.edit_columns):
            columns.update(dict.fromkeys(c.split(".")[0] for c in cols or ()))
    FieldPermissionView.resources = {resource: list(columns) for resource, columns in fields.items()}
    appbuilder.add_view(
        ImportView,
        "Import",
        href="/import/customers/",
        label=_("Excel import"),
        icon="fa-file-import",
        category="CustomerManagement",
        category_label=_("Customer management"),
        category_icon="fa-users",
    )
    appbuilder.add_view(
        CareRemindersView,
        "CareReminders",
        label=_("Care reminders"),
        icon="fa-birthday-cake",
        category="CustomerCare",
        category_label=_("Customer care"),
        category_icon="fa-hand-holding-heart",
    )
    appbuilder.add_view(
        PerformanceView,
        "Performance",
        label=_("Staff performance"),
        icon="fa-chart-line",
        category="ServiceCenter",
        category_label=_("Service center"),
        category_icon="fa-headset",
    )
    appbuilder.add_link(
        "GenerateBills",
        href="/billingrunview/generate",
        label=_("Generate bills"),
        icon="fa-file-invoice-dollar",
        category="Billing",
        category_label=_("Billing"),
    )
    appbuilder.add_view(
        ArrearsView,
        "Arrears",
        label=_("Arrears"),
        icon="fa-exclamation-triangle",
        category="Billing",
        category_label=_("Billing"),
        category_icon="fa-yen-sign",
    )
    from app.reporting.views import register_dashboard_views

    register_dashboard_views(appbuilder)
    appbuilder.add_view(
        FieldPermissionView,
        "FieldPermissions",
        label=_("Field permissions"),
        icon="fa-user-lock",
        category="Settings",
        category_label=_("System settings"),
        category_icon="fa-cogs",
    )
