"""我的账单 and 在线缴费: the resident's bills, payments and receipts, orders paid through the gateway,
the gateway's notification endpoint, and the local stand-in's 收银台."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _

from app.billing.payments import (
    GatewayError,
    LocalGateway,
    active_gateway,
    gateway_named,
    receive_notification,
    start_payment,
)
from app.billing.statement import order_by_trade_number, payment_by_receipt, statement
from app.core.clock import local_today, utcnow
from app.core.column_types import BILL_STATUSES, FEE_TYPES, PAYMENT_KINDS, PAYMENT_METHODS, PAYMENT_ORDER_STATUSES
from app.core.errors import DomainError
from app.extensions import csrf, db
from app.policy.principal import SYSTEM, acting_as
from app.portal.blueprint import portal, public, tile
from app.portal.session import current_customer_id, resident_required

tile("portal.bills", _("My bills"), "¥")


class _Labels:
    fee = staticmethod(FEE_TYPES.label)

    @staticmethod
    def bill(status):  # a resident reads "paid" as paid in full
        return _("Paid in full") if status == "paid" else BILL_STATUSES.label(status)

    kind = staticmethod(PAYMENT_KINDS.label)
    method = staticmethod(PAYMENT_METHODS.label)
    order = staticmethod(PAYMENT_ORDER_STATUSES.label)


@portal.context_processor
def _bill_labels():
    return {"bill_labels": _Labels}


@portal.route("/bills")
@resident_required
def bills():
    # the resident's session sees only their own bills and payments (app.policy.scoping.resident_options)
    mine = statement(db.session, local_today())
    return render_template(
        "portal/bills.html",
        bills=mine.bills,
        arrears=mine.arrears,
        overdue=mine.overdue,
        payments=mine.payments,
        waiting=mine.waiting,
        title=_("My bills"),
        back=url_for("portal.home"),
    )


@portal.route("/bills/receipts/<receipt_number>")
@resident_required
def receipt(receipt_number):
    payment = payment_by_receipt(db.session, receipt_number)
    if payment is None:
        abort(404)
    return render_template("portal/receipt.html", payment=payment, title=_("Receipt"), back=url_for("portal.bills"))


@portal.route("/bills/<int:bill_id>/pay", methods=["POST"])
@resident_required
def pay_bill(bill_id):
    try:
        gateway = active_gateway(current_app.config)
        order = start_payment(db.session, current_customer_id(), bill_id, gateway, utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "danger")
        return redirect(url_for("portal.bills"))
    return redirect(url_for("portal.payment_order", out_trade_no=order.out_trade_no))


def _own_order(out_trade_no):
    order = order_by_trade_number(db.session, out_trade_no)
    if order is None:
        abort(404)
    return order


@portal.route("/pay/orders/<out_trade_no>")
@resident_required
def payment_order(out_trade_no):
    order = _own_order(out_trade_no)
    return render_template(
        "portal/payment_order.html", order=order, title=_("Online payment"), back=url_for("portal.bills")
    )


@portal.route("/pay/orders/<out_trade_no>/go")
@resident_required
def go_pay(out_trade_no):
    """To the gateway's own page (a link, not a form: a page may post forms only to the app itself)."""
    order = _own_order(out_trade_no)
    if order.status != "created":
        return redirect(url_for("portal.payment_order", out_trade_no=order.out_trade_no))
    gateway = gateway_named(order.gateway, current_app.config)
    try:
        if gateway is None:
            raise GatewayError(_("The payment gateway is not configured."))
        target = gateway.create_order(order, f"{order.bill.period} {order.bill.unit}", request.remote_addr)
    except (DomainError, OSError) as error:
        flash(str(error), "danger")
        return redirect(url_for("portal.payment_order", out_trade_no=order.out_trade_no))
    return redirect(target["redirect_url"])


@portal.route("/pay/stand-in/<out_trade_no>", methods=["GET", "POST"])
@resident_required
def stand_in(out_trade_no):
    """The local stand-in's 收银台: 确认支付 sends the stand-in's signed notification to the app's own
    notification rule, as the gateway's server would (the demo has no gateway server of its own)."""
    order = _own_order(out_trade_no)
    gateway = gateway_named(order.gateway, current_app.config)
    if not isinstance(gateway, LocalGateway):  # only the stand-in's orders, only while it is configured
        abort(404)
    if request.method == "POST" and order.status == "created":
        headers, body = gateway.notification(order, utcnow())
        with acting_as(SYSTEM):
            receive_notification(db.session, gateway, headers, body, utcnow(), request.remote_addr)
        return redirect(url_for("portal.payment_order", out_trade_no=out_trade_no))
    return render_template("portal/stand_in.html", order=order, title=gettext("Payment stand-in"))


@portal.route("/pay/notify/<gateway_name>", methods=["POST"])
@public
@csrf.exempt  # the gateway's server posts here, with its own signature instead of a session
def payment_notify(gateway_name):
    gateway = gateway_named(gateway_name, current_app.config)
    if gateway is None:
        abort(404)
    with acting_as(SYSTEM):  # the signed notification, not a session, says who paid
        outcome, _order = receive_notification(
            db.session, gateway, dict(request.headers), request.get_data(), utcnow(), request.remote_addr
        )
    body, status, content_type = gateway.answer(outcome in ("accepted", "replay"))
    return current_app.response_class(body, status=status, content_type=content_type)
