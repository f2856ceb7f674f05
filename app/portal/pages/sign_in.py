"""The portal's sign-in: mobile number and one-time code (app.portal.codes), or WeChat (app.portal.identity)."""

import hmac
import logging
import secrets

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext, lazy_gettext as _

from app.notices.channels import senders_from_config
from app.core.clock import utcnow
from app.core.errors import DomainError
from app.extensions import db
from app.policy.principal import SYSTEM, acting_as
from app.portal.blueprint import portal, public
from app.portal.codes import CodeRules, masked, request_code, sign_in_with_code
from app.portal.identity import IdentityError, customer_for_openid, link_openid, provider_from_config
from app.portal.session import current_customer_id, sign_in

logger = logging.getLogger(__name__)

WECHAT_STATE = "crm_wechat_state"
WECHAT_PENDING = "crm_wechat_openid"  # an openid no customer has yet: linked at the next code sign-in


def safe_next(value):
    """Where to go after signing in: a path of the portal on this site, nothing else."""
    value = value or ""
    if value.startswith("/portal/") and not value.startswith("//") and "\\" not in value and "\n" not in value:
        return value
    return url_for("portal.home")


def _client_address():
    return request.remote_addr or "unknown"  # ProxyFix (CRM_TRUSTED_PROXIES) has set it from the proxies


def _page(step, phone="", error=None, status=200):
    wechat = provider_from_config(current_app.config) is not None
    return (
        render_template(
            "portal/sign_in.html",
            title=_("Sign in"),
            step=step,
            phone=phone,
            error=error,
            next=request.values.get("next", ""),
            wechat=wechat,
            linking=bool(session.get(WECHAT_PENDING)),
        ),
        status,
    )


@portal.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in_page():
    if request.method == "GET":
        if current_customer_id() is not None:
            return redirect(safe_next(request.args.get("next")))
        return _page("phone")
    config = current_app.config
    rules, phone = CodeRules.from_config(config), request.form.get("phone", "")
    if request.form.get("action") == "send":
        try:
            with acting_as(SYSTEM):  # nobody is signed in yet: the rules name the customer
                sent = request_code(db.session, phone, _client_address(), utcnow(), config["SECRET_KEY"], rules)
        except DomainError as error:
            return _page("phone", phone, error.message, 422)
        if sent.code and "sms" not in senders_from_config(config):
            # no SMS gateway (the demo): the server's own log, never a page staff read, carries it
            logger.info("portal sign-in code for %s: %s (no SMS gateway configured)", masked(sent.phone), sent.code)
        flash(gettext("A code was sent to %(phone)s. It works for %(minutes)s minutes.",
                      phone=masked(sent.phone), minutes=rules.minutes), "success")  # fmt: skip
        return _page("code", sent.phone)
    try:
        with acting_as(SYSTEM):
            customer = sign_in_with_code(
                db.session, phone, request.form.get("code"), _client_address(), utcnow(), config["SECRET_KEY"], rules
            )
            openid = session.pop(WECHAT_PENDING, None)
            if openid:
                link_openid(db.session, customer, openid)
    except DomainError as error:
        return _page("phone" if error.field == "phone" else "code", phone, error.message, 422)
    sign_in(customer, "code")
    return redirect(safe_next(request.form.get("next")))


@portal.route("/wechat")
@public
def wechat():
    provider = provider_from_config(current_app.config)
    if provider is None:
        abort(404)
    state = secrets.token_urlsafe(24)
    session[WECHAT_STATE] = {"state": state, "next": safe_next(request.args.get("next"))}
    callback = current_app.config["CRM_BASE_URL"].rstrip("/") + url_for("portal.wechat_callback")
    return redirect(provider.authorize_url(state, callback))


@portal.route("/wechat/callback")
@public
def wechat_callback():
    provider = provider_from_config(current_app.config)
    if provider is None:
        abort(404)
    expected = session.pop(WECHAT_STATE, None) or {}
    state, code = request.args.get("state", ""), request.args.get("code", "")
    if not expected.get("state") or not hmac.compare_digest(str(expected["state"]), state) or not code:
        flash(gettext("This sign-in request has expired. Please try again."), "danger")
        return redirect(url_for("portal.sign_in_page"))
    try:
        openid = provider.identity_for(code)
    except IdentityError as error:
        flash(str(error.message), "danger")
        return redirect(url_for("portal.sign_in_page"))
    with acting_as(SYSTEM):
        customer = customer_for_openid(db.session, openid)
    if customer is None:
        session[WECHAT_PENDING] = openid
        flash(gettext("First time with WeChat: confirm your mobile number once and WeChat signs you in from then on."),
              "info")  # fmt: skip
        return redirect(url_for("portal.sign_in_page", next=expected.get("next")))
    sign_in(customer, "wechat")
    return redirect(safe_next(expected.get("next")))
