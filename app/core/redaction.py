"""What staff may read of a message to a customer: never what would let its reader act as the customer.

Personal links (rating, survey, tracked link, portal sign-in) lose their token; a message whose whole
point is a secret (a portal sign-in code) loses its digits. The channel still sends the real text:
this is the one rule for every place staff read an outbox row (its page, exports, logs).
"""

import re

# templates whose numbers are credentials: the digits are shown masked
SECRET_TEMPLATES = frozenset({"portal_sign_in_code"})

_PERSONAL_LINK = re.compile(r"(/(?:rate|survey|b|portal/link)/)[A-Za-z0-9_\-.]+")
_DIGITS = re.compile(r"[0-9]{4,}")
_SIGN_IN_LINK = re.compile(r"(/portal/link/)[A-Za-z0-9_\-.]+")


def redact_for_staff(text, template_key=None):
    """A customer's message as staff see it: personal links without their token, and a sign-in
    code's digits masked."""
    text = _PERSONAL_LINK.sub(r"\1…", text or "")
    if template_key in SECRET_TEMPLATES:
        text = _DIGITS.sub("******", text)
    return text


def for_passing_on(text):
    """A customer's message as the staff member asked to pass it on reads it (no channel of the
    customer's worked): the rating link stays, they read it out; a portal sign-in link never does."""
    return _SIGN_IN_LINK.sub(r"\1…", text or "")
