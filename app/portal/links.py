"""Personal sign-in links: a signed, expiring link in a message the firm sends signs its resident in."""

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired
from sqlalchemy import select

from app.core.signing import serializer
from app.models import Customer

SALT = "portal-sign-in"


def sign_in_url(customer, base_url=None, secret_key=None):
    """The resident's personal link to the portal (in notices, bills, broadcasts)."""
    config = current_app.config
    token = serializer(secret_key or config["SECRET_KEY"], SALT).dumps({"customer": customer.id})
    return f"{(base_url or config['CRM_BASE_URL']).rstrip('/')}/portal/link/{token}"


def customer_for_link(session, token, secret_key, max_age_days):
    """The customer a link signs in, or None when it is forged, expired or names nobody."""
    try:
        data = serializer(secret_key, SALT).loads(token, max_age=int(max_age_days * 86400))
    except (SignatureExpired, BadSignature):
        return None
    customer_id = data.get("customer") if isinstance(data, dict) else None
    if not isinstance(customer_id, int):
        return None
    return session.execute(select(Customer).where(Customer.id == customer_id)).scalar_one_or_none()
