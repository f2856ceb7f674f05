"""Who the resident is on a portal request: their own session key, checked before every portal view."""

import functools

from flask import current_app, g, redirect, request, session, url_for
from sqlalchemy import select

from app.core.clock import timestamp, utcnow
from app.extensions import db
from app.models import Customer
from app.policy.principal import acting_as, resident_principal, SYSTEM
from app.customers.residents import record_portal_sign_in

SESSION_KEY = "crm_resident"


def sign_in(customer, how):
    """Start a portal session for ``customer`` (``how``: code, link, wechat …); any earlier one ends."""
    now = timestamp()
    session.pop(SESSION_KEY, None)
    session[SESSION_KEY] = {"customer": customer.id, "at": now, "seen": now, "how": how}
    g.crm_resident_principal = resident_principal(customer.id)
    record_portal_sign_in(db.session, customer.id, utcnow())


def sign_out():
    session.pop(SESSION_KEY, None)
    g.pop("crm_resident_principal", None)


def _expired(data, now):
    config = current_app.config
    idle = config["CRM_PORTAL_IDLE_DAYS"] * 86400
    longest = config["CRM_PORTAL_MAX_DAYS"] * 86400
    return now - data.get("seen", 0) > idle or now - data.get("at", 0) > longest


def load_resident():
    """Before a portal view: the resident of this session (or nobody), as this request's principal."""
    g.pop("crm_resident_principal", None)
    data = session.get(SESSION_KEY)
    if not isinstance(data, dict) or not isinstance(data.get("customer"), int):
        g.crm_resident_principal = resident_principal(None)
        return
    now = timestamp()
    with acting_as(SYSTEM):
        known = db.session.execute(select(Customer.id).where(Customer.id == data["customer"])).first()
    if known is None or _expired(data, now):
        session.pop(SESSION_KEY, None)
        g.crm_resident_principal = resident_principal(None)
        return
    if now - data.get("seen", now) > 60:
        session[SESSION_KEY] = dict(data, seen=now)  # refreshed at most once a minute
    g.crm_resident_principal = resident_principal(data["customer"])


def current_customer_id():
    principal = g.get("crm_resident_principal")
    return principal.customer_id if principal is not None else None


def resident_required(view):
    """A portal page for a signed-in resident; anyone else is sent to the portal's sign-in."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current_customer_id() is None:
            return redirect(url_for("portal.sign_in_page", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper
