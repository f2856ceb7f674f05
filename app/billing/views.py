"""Billing pages: bills, payments, online orders and notifications, fee rules, meter readings, bill runs, write-offs and arrears."""

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.actions import action
from flask_babel import lazy_gettext as _

from app import models
from app.core.column_types import utcnow
from app.core.errors import DomainError
from app.extensions import db
from app.policy.permissions import (
    RESOURCE_ARREARS,
    RESOURCE_BILL,
    RESOURCE_BILLING_RUN,
    RESOURCE_FEE_RULE,
    RESOURCE_METER_READING,
    RESOURCE_PAYMENT,
    RESOURCE_WRITE_OFF,
)
from app.web.interface import CrmInterface
from app.web.model_view import CrmView
from app.billing.payments import reverse_payment
from app.admin.tasks import enqueue, task_for
from app.core.clock import local_now
from app.billing.bills import decide_write_off
from app.billing.bills import AGING_BUCKETS, arrears_by_building, arrears_by_customer
from app.core.clock import local_today


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
