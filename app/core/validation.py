"""Field rules, each a plain function returning an error message or None.

Models name the rule in a column's ``info["check"]``; the form validators and the REST API
validators are both built from that one declaration (see app.web.fields).
"""

import re
from decimal import Decimal, InvalidOperation

import email_validator
from flask_babel import lazy_gettext as _
from stdnum.cn import ric

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def normalize_phone(value):
    return re.sub(r"[\s()]", "", value or "")


def check_phone(value):
    """A mainland mobile number (11 digits, 1[3-9]…) or a landline with area code."""
    phone = normalize_phone(value)
    if _MOBILE.match(phone) or _LANDLINE.match(phone):
        return None
    return _("Enter a valid phone number: an 11-digit mobile or a landline with area code.")


def check_email(value):
    try:
        email_validator.validate_email(value or "", check_deliverability=False)
    except email_validator.EmailNotValidError:
        return _("Enter a valid email address.")
    return None


def check_id_number(value):
    """An 18-character resident ID number: check digit and a real birth date (python-stdnum's cn.ric)."""
    if ric.is_valid(value or "") and len(ric.compact(value or "")) == 18:
        return None
    return _("Enter a valid 18-character ID number.")


def check_color(value):
    if _COLOR.match(value or ""):
        return None
    return _("Enter a colour as #RRGGBB.")


def check_period(value):
    if _PERIOD.match(value or ""):
        return None
    return _("Enter a billing period as YYYY-MM.")


def check_non_negative(value):
    try:
        if value is None or Decimal(str(value)) >= 0:
            return None
    except InvalidOperation:
        pass
    return _("Must not be negative.")


def check_positive(value):
    try:
        if value is not None and Decimal(str(value)) > 0:
            return None
    except InvalidOperation:
        pass
    return _("Must be greater than zero.")


def parse_tiers(text):
    """'20:3.50, 40:4.20, :5.00' -> [(Decimal(20), Decimal('3.50')), (Decimal(40), ...), (None, Decimal('5.00'))].

    Each step is "up to:price"; the last has no limit. Raises ValueError on anything else.
    """
    steps = []
    for part in (p.strip() for p in (text or "").replace("，", ",").replace("：", ":").split(",")):
        if not part:
            continue
        limit, _sep, price = part.partition(":")
        try:
            limit = Decimal(limit.strip()) if limit.strip() else None
            price = Decimal(price.strip())
        except InvalidOperation:
            raise ValueError(part)
        if price < 0 or (limit is not None and limit <= 0) or not _sep:
            raise ValueError(part)
        steps.append((limit, price))
    limits = [limit for limit, _price in steps]
    if not steps or None in limits[:-1] or limits[-1] is not None or limits[:-1] != sorted(set(limits[:-1])):
        raise ValueError(text)
    return steps


def check_tiers(value):
    try:
        parse_tiers(value)
    except ValueError:
        return _("Write tiers as 'up to:price' steps, rising, the last without a limit, e.g. 20:3.50, 40:4.20, :5.00")
    return None


CHECKS = {
    "tiers": check_tiers,
    "phone": check_phone,
    "email": check_email,
    "id_number": check_id_number,
    "color": check_color,
    "period": check_period,
    "non_negative": check_non_negative,
    "positive": check_positive,
}


def check_value(check_name, value):
    """Run the named rule; empty optional values are the form's/schema's business."""
    if value is None or value == "":
        return None
    return CHECKS[check_name](value)
