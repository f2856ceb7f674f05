"""Portal sign-in by mobile number and a one-time code sent by SMS.

- The code is six random digits, kept only as an HMAC with the app's secret, valid for a few minutes
  and for one sign-in; asking again replaces the earlier code.
- A number no customer has gets the same answer as a customer's, and nothing is sent: the page never
  tells who is a customer. Its requests are recorded all the same, so they count against the limits.
- Limits: codes per number per 15 minutes and per client address per hour; wrong codes in a row lock
  the number (even the right code is refused while it is locked).
- Each code takes a bounded number of guesses, and using it is a conditional UPDATE: two parallel
  submissions of one code cannot both sign in, on SQLite or PostgreSQL.
"""

import dataclasses
import datetime
import hashlib
import hmac
import re
import secrets

from flask_babel import lazy_gettext as _
from sqlalchemy import delete, func, select, update

from app.core.errors import DomainError
from app.models import Customer, OutboxMessage, PortalSignInAttempt, PortalSignInCode
from app.notices.notify import (
    DEFAULT_TEMPLATES,
    VARIABLES,
    customer_message,
    load_template,
    render_message,
    template_problems_log,
)
from app.core.validation import normalize_phone

TEMPLATE = "portal_sign_in_code"
NUMBER_WINDOW = datetime.timedelta(minutes=15)
KEPT = datetime.timedelta(days=1)  # codes and attempts older than this count for nothing: deleted
ADDRESS_WINDOW = datetime.timedelta(hours=1)
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_CODE = re.compile(r"^[0-9]{6}$")


@dataclasses.dataclass(frozen=True)
class CodeRules:
    minutes: int = 5
    per_number: int = 3
    per_address: int = 20
    wrong_limit: int = 5
    lock_minutes: int = 15

    @classmethod
    def from_config(cls, config):
        return cls(
            minutes=int(config["CRM_PORTAL_CODE_MINUTES"]),
            per_number=int(config["CRM_PORTAL_CODES_PER_NUMBER"]),
            per_address=int(config["CRM_PORTAL_CODES_PER_ADDRESS"]),
            wrong_limit=int(config["CRM_PORTAL_WRONG_CODES"]),
            lock_minutes=int(config["CRM_PORTAL_LOCK_MINUTES"]),
        )


@dataclasses.dataclass
class SentCode:
    """What asking for a code did: the customer and code are None for a number nobody has."""

    phone: str
    customer: Customer = None
    code: str = None
    message: OutboxMessage = None


def mobile_number(value):
    """The mobile number typed, normalised; a clear message when it is not one."""
    phone = normalize_phone(value).replace("-", "")
    if phone.startswith("+86"):
        phone = phone[3:]
    if not _MOBILE.match(phone):
        raise DomainError(_("Enter your 11-digit mobile number."), field="phone")
    return phone


def masked(phone):
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else "****"


def code_hash(secret_key, phone, code):
    key = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return hmac.new(key, f"portal-sign-in:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def locked_until(session, phone, now, rules):
    """When the number's lock ends, or None: ``wrong_limit`` wrong codes within ``lock_minutes``
    (none of them followed by a sign-in) lock it for ``lock_minutes`` from the last of them."""
    window = datetime.timedelta(minutes=rules.lock_minutes)
    attempts = session.execute(
        select(PortalSignInAttempt.outcome, PortalSignInAttempt.at)
        .where(PortalSignInAttempt.phone == phone, PortalSignInAttempt.at > now - 2 * window)
        .order_by(PortalSignInAttempt.at, PortalSignInAttempt.id)
    ).all()
    streak, until = [], None
    for outcome, at in attempts:
        if outcome != "wrong":
            streak = []
            continue
        streak = [t for t in streak if t > at - window] + [at]
        if len(streak) >= rules.wrong_limit:
            until, streak = at + window, []
    return until if until is not None and until > now else None


def _refuse_if_locked(session, phone, now, rules):
    if locked_until(session, phone, now, rules) is not None:
        raise DomainError(
            _(
                "Too many wrong codes: this number is locked for %(minutes)s minutes. Try again later.",
                minutes=rules.lock_minutes,
            ),
            field="code",
        )


def request_code(session, phone, client_address, now, secret_key, rules):
    """Ask for a sign-in code for ``phone`` (as typed) from ``client_address``; commits.

    Refused (DomainError, nothing recorded) when the number or the address has asked too often or
    the number is locked. Otherwise the same result for every number: only a customer's gets a code,
    queued as an SMS in the outbox."""
    phone = mobile_number(phone)
    _refuse_if_locked(session, phone, now, rules)
    by_number = session.execute(
        select(func.count())
        .select_from(PortalSignInCode)
        .where(PortalSignInCode.phone == phone, PortalSignInCode.created_at > now - NUMBER_WINDOW)
    ).scalar_one()
    by_address = session.execute(
        select(func.count())
        .select_from(PortalSignInCode)
        .where(PortalSignInCode.client_address == client_address, PortalSignInCode.created_at > now - ADDRESS_WINDOW)
    ).scalar_one()
    if by_number >= rules.per_number or by_address >= rules.per_address:
        raise DomainError(_("Too many codes asked for. Please wait a few minutes and try again."), field="phone")
    customer = session.execute(select(Customer).where(Customer.phone == phone)).scalar_one_or_none()
    session.execute(delete(PortalSignInCode).where(PortalSignInCode.created_at < now - KEPT))
    session.execute(delete(PortalSignInAttempt).where(PortalSignInAttempt.at < now - KEPT))
    session.execute(  # a new code replaces the earlier ones
        update(PortalSignInCode)
        .where(PortalSignInCode.phone == phone, PortalSignInCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    code = f"{secrets.randbelow(10**6):06d}" if customer is not None else None
    row = PortalSignInCode(
        phone=phone,
        customer_id=customer.id if customer is not None else None,
        client_address=client_address[:45],
        code_hash=code_hash(secret_key, phone, code) if code else None,
        tries=0,
        created_at=now,
        expires_at=now + datetime.timedelta(minutes=rules.minutes),
    )
    session.add(row)
    session.flush()
    sent = SentCode(phone=phone, customer=customer, code=code)
    if customer is not None:
        sent.message = _queue_sms(session, customer, phone, code, row.id, now, rules)
    session.commit()
    return sent


def _queue_sms(session, customer, phone, code, code_id, now, rules):
    """The code goes by SMS only, whatever the customer's preferred channel (it proves the number)."""
    template = load_template(session, TEMPLATE) or DEFAULT_TEMPLATES[TEMPLATE]  # never switched off
    subject, body, problems = render_message(template, {"code": code, "minutes": rules.minutes}, VARIABLES[TEMPLATE])
    if code not in body:  # an edited wording that lost the code still carries it
        body = f"{body} {code}"
    message = customer_message(
        customer,
        ["sms"],
        subject,
        body,
        now,
        address=phone,
        dedupe_key=f"{TEMPLATE}:{code_id}:{secrets.token_hex(8)}",
        template_key=TEMPLATE,
        log=template_problems_log(problems, now),
    )
    session.add(message)
    return message


def _record(session, phone, client_address, outcome, now):
    session.add(PortalSignInAttempt(phone=phone, client_address=client_address[:45], outcome=outcome, at=now))


def _wrong(session, phone, client_address, now, rules):
    _record(session, phone, client_address, "wrong", now)
    session.commit()
    _refuse_if_locked(session, phone, now, rules)  # this one was the last allowed
    raise DomainError(_("The code is wrong or no longer valid. Check it or ask for a new one."), field="code")


def sign_in_with_code(session, phone, code, client_address, now, secret_key, rules):
    """The customer whose number and current code these are; commits. Wrong, expired, used or
    replaced codes, and any code while the number is locked, raise DomainError and sign nobody in."""
    phone = mobile_number(phone)
    code = (code or "").strip()
    _refuse_if_locked(session, phone, now, rules)
    row = session.execute(
        select(PortalSignInCode)
        .where(
            PortalSignInCode.phone == phone,
            PortalSignInCode.used_at.is_(None),
            PortalSignInCode.expires_at > now,
            PortalSignInCode.code_hash.isnot(None),
        )
        .order_by(PortalSignInCode.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if row is None or not _CODE.match(code):
        _wrong(session, phone, client_address, now, rules)
    code_id, expected = row.id, row.code_hash
    guessed = session.execute(  # each code takes at most wrong_limit guesses, even in parallel
        update(PortalSignInCode)
        .where(PortalSignInCode.id == code_id, PortalSignInCode.tries < rules.wrong_limit)
        .values(tries=PortalSignInCode.tries + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if guessed != 1 or not hmac.compare_digest(expected, code_hash(secret_key, phone, code)):
        _wrong(session, phone, client_address, now, rules)
    used = session.execute(  # the one submission that flips used_at signs in; a parallel one finds it set
        update(PortalSignInCode)
        .where(PortalSignInCode.id == code_id, PortalSignInCode.used_at.is_(None), PortalSignInCode.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if used != 1:
        session.rollback()
        raise DomainError(_("The code is wrong or no longer valid. Check it or ask for a new one."), field="code")
    _record(session, phone, client_address, "signed_in", now)
    customer = session.get(Customer, row.customer_id)
    session.commit()
    return customer
