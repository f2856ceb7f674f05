"""Account protection: lockout after repeated failures, the password policy, and ending sessions.

FAB keeps the whole session in the signed cookie, so a copied cookie outlives a logout. Each
account has a session version, written into the session at login and into every API token (JWT)
issued; logout, a password change and disabling the account bump it, and a cookie session or a
token carrying an older version is refused.
"""

import datetime

from flask_babel import lazy_gettext as _
from itsdangerous import BadSignature
from sqlalchemy import select, update

from app.core.signing import serializer
from app.models import AccountSecurity, LoginThrottle
from app.extensions import db
from app.models import LoginNameLock
from app.policy.audit import record_event
from app.core.clock import to_local
from app.models import PasswordResetToken
from app.policy.records import current_actor_id
from app.models import AccountMail
from app.notices.channels import PermanentFailure

MIN_LENGTH = 10
# The most used passwords (global lists and the common Chinese ones); never accepted.
COMMON_PASSWORDS = {
    "1234567890",
    "12345678910",
    "123456789a",
    "1234567890a",
    "0123456789",
    "9876543210",
    "1111111111",
    "0000000000",
    "1234512345",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "qwertyuiop",
    "qwerty1234",
    "qwerty12345",
    "password12",
    "password123",
    "password1234",
    "passw0rd123",
    "p@ssw0rd123",
    "iloveyou12",
    "iloveyou123",
    "abc1234567",
    "abcd123456",
    "abcdefghij",
    "a123456789",
    "aa12345678",
    "woaini1314",
    "woaini520",
    "woaini5201314",
    "5201314520",
    "1314520520",
    "wang123456",
    "zhang123456",
    "li123456789",
    "admin12345",
    "admin123456",
    "administrator",
    "welcome123",
    "changeme123",
    "letmein123",
    "football123",
    "baseball123",
    "sunshine123",
    "princess123",
    "dragon1234",
    "monkey1234",
    "shadow1234",
    "master1234",
    "superman123",
    "zxcvbnm123",
    "asdfghjkl1",
    "asdfghjkl;",
    "1qazxsw23edc",
    "qazwsxedc123",
    "147258369a",
    "1472583690",
    "123qweasdzxc",
    "qweasdzxc123",
    "aaaaaaaaaa",
    "abc123abc123",
    "test123456",
    "root123456",
    "huawei12345",
    "xiaomi12345",
    "taobao12345",
    "baidu12345",
    "qq123456789",
    "wocaonima123",
}


def password_problem(password, usernames=()):
    """Why a password is refused (a message), or None: length, the username, a common password."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        return _("Use at least %(count)s characters.", count=MIN_LENGTH)
    lowered = password.lower()
    for name in usernames:
        if name and lowered in (name.lower(), name.lower().split("@")[0]):
            return _("The password must not be the user name.")
    if lowered in COMMON_PASSWORDS or len(set(password)) <= 2:
        return _("This password is too common; choose another.")
    return None


def _usernames_in_request():
    from flask import g, has_request_context, request

    if not has_request_context():
        return []
    names = [request.form.get("username"), request.form.get("email")]
    payload = request.get_json(silent=True) if request.is_json else None
    if isinstance(payload, dict):
        names += [payload.get("username"), payload.get("email")]
    user = getattr(g, "user", None)
    if getattr(user, "is_authenticated", False) and "resetmypassword" in request.path:
        names.append(user.username)
    target = request.args.get("pk", type=int)
    if target and "resetpassword" in request.path:
        from flask_appbuilder.security.sqla.models import User

        other = db.session.get(User, target)
        names.append(other.username if other else None)
    return [n for n in names if n]


def fab_password_validator(password):
    """FAB's password-complexity hook: FAB calls it in its user, reset-password forms and its user API."""
    from flask_appbuilder.exceptions import PasswordComplexityValidationError

    problem = password_problem(password, _usernames_in_request())
    if problem:
        raise PasswordComplexityValidationError(str(problem))


# ---- lockout


def _state(session, user_id):
    state = session.get(AccountSecurity, user_id)
    if state is None:
        state = AccountSecurity(user_id=user_id, failed_logins=0, session_version=0)
        session.add(state)
    return state


def is_locked(session, user_id, now):
    state = session.get(AccountSecurity, user_id)
    return state is not None and state.locked_until is not None and state.locked_until > now


def name_hash(name):
    """How a sign-in name is kept in the throttle and name-lock tables (never the name itself)."""
    import hashlib

    return hashlib.sha256((name or "").strip().lower().encode("utf-8")).hexdigest()


def locked_until(session, user_id, name, now):
    """Until when a sign-in is refused as locked, or None: the account's lock, or for a name no
    account has, the same kind of lock kept for the name (so both read alike)."""

    if user_id is not None:
        state = session.get(AccountSecurity, user_id)
    else:
        state = session.get(LoginNameLock, name_hash(name))
    if state is not None and state.locked_until is not None and state.locked_until > now:
        return state.locked_until
    return None


def record_unknown_failure(session, name, now, max_failures, lock_minutes):
    """A failed sign-in with a name no account has, counted and locked exactly like an account's
    (record_failure), so that the reply after the ``max_failures``-th is the same. Returns the
    lock's end or None."""

    key = name_hash(name)
    session.execute(
        LoginNameLock.__table__.delete().where(  # housekeeping: nothing pending for a day
            LoginNameLock.last_failure_at < now - datetime.timedelta(days=1),
            (LoginNameLock.locked_until.is_(None)) | (LoginNameLock.locked_until < now),
        )
    )
    state = session.get(LoginNameLock, key)
    if state is None:
        state = LoginNameLock(name_hash=key, failed_logins=0)
        session.add(state)
    state.failed_logins = (state.failed_logins or 0) + 1
    state.last_failure_at = now
    if state.failed_logins >= max_failures:
        state.locked_until = now + datetime.timedelta(minutes=lock_minutes)
        state.failed_logins = 0
    session.commit()
    return state.locked_until if state.locked_until and state.locked_until > now else None


def record_failure(session, user_id, now, max_failures, lock_minutes):
    """One more failed login; the ``max_failures``-th in a row locks the account for ``lock_minutes``."""
    state = _state(session, user_id)
    state.failed_logins = (state.failed_logins or 0) + 1
    state.last_failure_at = now
    if state.failed_logins >= max_failures:
        state.locked_until = now + datetime.timedelta(minutes=lock_minutes)
        state.failed_logins = 0
        record_event(
            session,
            "locked",
            "User",
            user_id,
            f"{max_failures} failures",
            actor_id=user_id,
            details={"locked_until": state.locked_until.isoformat()},
            commit=False,
        )
    session.commit()
    return state.locked_until if state.locked_until and state.locked_until > now else None


def locked_message(until):
    """What a refused sign-in of a locked account (or name) is told: locked, and until when, local time."""

    return _(
        "This account is locked after too many failed sign-ins. Try again after %(time)s.",
        time=to_local(until).strftime("%Y-%m-%d %H:%M"),
    )


def record_success(session, user_id):
    state = session.get(AccountSecurity, user_id)
    if state is not None and (state.failed_logins or state.locked_until):
        state.failed_logins, state.locked_until = 0, None
        session.commit()


def unlock(session, user_id):
    """An admin lifts a lock (and forgets earlier failures)."""
    session.execute(
        update(AccountSecurity).where(AccountSecurity.user_id == user_id).values(locked_until=None, failed_logins=0)
    )
    session.commit()


# ---- sessions


def session_version(session, user_id):
    return (
        session.execute(select(AccountSecurity.session_version).where(AccountSecurity.user_id == user_id)).scalar() or 0
    )


def end_sessions(session, user_id):
    """Every session and API token of this account issued before now stops working; returns the new version."""
    state = _state(session, user_id)
    state.session_version = (state.session_version or 0) + 1
    session.commit()
    return state.session_version


REMEMBER_COOKIE = "crm_remember"


REMEMBER_SALT = "crm-remember"


def remember_token(secret_key, user_id, version, until_ts):
    """The signed "remember me" companion of Flask-Login's cookie: which account, under which session
    version, until when. No password or hash of one is in it."""
    return serializer(secret_key, REMEMBER_SALT, timed=False).dumps([int(user_id), int(version), float(until_ts)])


def remembered_until(secret_key, token, user_id, version, now_ts):
    """When the remembered sign-in ``token`` ends, if it is for ``user_id``, was issued under the
    account's current session ``version`` and has not run out; else None."""
    try:
        token_user, token_version, until = serializer(secret_key, REMEMBER_SALT, timed=False).loads(token or "")
    except (BadSignature, TypeError, ValueError):
        return None
    if str(token_user) != str(user_id) or token_version != version or not now_ts <= until:
        return None
    return until


def token_current(session, user_id, version):
    """Whether an API token for ``user_id`` carrying session ``version`` still stands: the account
    exists, is active, and has not ended its sessions (logout, password change, disabling) since."""
    from flask_appbuilder.security.sqla.models import User

    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        return False
    row = session.execute(
        select(User.active, AccountSecurity.session_version)
        .outerjoin(AccountSecurity, AccountSecurity.user_id == User.id)
        .where(User.id == user_id)
    ).first()
    return row is not None and bool(row[0]) and isinstance(version, int) and version == (row[1] or 0)


def login_statistics(session):
    """(username, sign-ins, failed sign-ins) of every account, the most used first (用户统计)."""
    from flask_appbuilder.security.sqla.models import User

    return [
        (name, logins or 0, failures or 0)
        for name, logins, failures in session.execute(
            select(User.username, User.login_count, User.fail_login_count).order_by(
                User.login_count.desc().nullslast(), User.username
            )
        )
    ]


def require_password_change(session, user_id, required):
    state = _state(session, user_id)
    state.must_change_password = bool(required)
    session.commit()


# ---- attempts per client address (all workers share the table)
#
# Sign-ins count only their failures, per client address and per sign-in name: an office whose
# colleagues all sign in from one address is not refused for succeeding.


def _window(now, window_minutes):
    start = now.replace(second=0, microsecond=0)
    return start - datetime.timedelta(minutes=start.minute % window_minutes)


def throttle_keys(ip, name):
    """The throttle rows a sign-in counts against: its address and (hashed) sign-in name."""
    return [ip or "unknown", "n:" + name_hash(name)[:40]]


def too_many_failures(session, keys, now, limit, window_minutes):
    """True when any of ``keys`` has ``limit`` failed sign-ins in the current window (nothing written)."""
    start = _window(now, window_minutes)
    counts = session.execute(
        select(LoginThrottle.attempts).where(LoginThrottle.ip.in_(keys), LoginThrottle.window_start == start)
    ).scalars()
    return any(count >= limit for count in counts)


def record_failed_attempt(session, keys, now, window_minutes):
    """Count one failed sign-in against each of ``keys`` in the current window."""
    start = _window(now, window_minutes)
    for key in dict.fromkeys(keys):
        row = session.get(LoginThrottle, (key, start))
        if row is None:
            row = LoginThrottle(ip=key, window_start=start, attempts=0)
            session.add(row)
        row.attempts += 1
    session.execute(
        LoginThrottle.__table__.delete().where(
            LoginThrottle.window_start < start - datetime.timedelta(minutes=window_minutes)
        )
    )
    session.commit()


def allow_attempt(session, ip, now, limit, window_minutes):
    """Count a login attempt from ``ip``; False once it has made ``limit`` in the current window."""
    start = now.replace(second=0, microsecond=0)
    start = start - datetime.timedelta(minutes=start.minute % window_minutes)
    row = session.get(LoginThrottle, (ip, start))
    if row is None:
        row = LoginThrottle(ip=ip, window_start=start, attempts=0)
        session.add(row)
    row.attempts += 1
    allowed = row.attempts <= limit
    session.execute(
        LoginThrottle.__table__.delete().where(
            LoginThrottle.window_start < start - datetime.timedelta(minutes=window_minutes)
        )
    )
    session.commit()
    return allowed


# ---- session timeouts


def session_expired(login_at, seen_at, now_ts, idle_minutes, absolute_hours, remember_until=None):
    """True when a session has been idle too long or has lived too long since the login.

    A session signed in with "remember me" is the person's choice to stay signed in on that
    device: it is not ended for being idle or after ``absolute_hours``, but when its remembered
    period (CRM_REMEMBER_DAYS from the sign-in) is over. Logout, a password change and disabling
    the account end it like any other session (the session version)."""
    if remember_until is not None:
        return now_ts > remember_until
    if login_at is None or seen_at is None:
        return False  # a session from before these were recorded: the next login records them
    return now_ts - seen_at > idle_minutes * 60 or now_ts - login_at > absolute_hours * 3600


def _account_changes(session, flush_context):
    """After every flush, whatever the path (pages, user API, reset links, CLI):

    - an account created by a signed-in person (an admin in the user pages or API) starts with
      ``must_change_password``; accounts made by `crm init` or the demo loader do not;
    - a changed password or a disabled account ends every session and API token issued before
      (the session version moves on) and every unused password-reset link of the account."""
    from flask_appbuilder.security.sqla.models import User
    from sqlalchemy import delete, insert, inspect

    new_users = [item.id for item in session.new if isinstance(item, User) and item.id is not None]
    if new_users and current_actor_id(session) is not None:
        session.connection().execute(
            insert(AccountSecurity),
            [
                {"user_id": user_id, "failed_logins": 0, "session_version": 0, "must_change_password": True}
                for user_id in new_users
            ],
        )
    ended = []
    for item in session.dirty:
        if isinstance(item, User) and item.id is not None:
            state = inspect(item)
            disabled = state.attrs.active.history.has_changes() and not item.active
            if disabled or state.attrs.password.history.has_changes():
                ended.append(item.id)
    if not ended:
        return
    connection = session.connection()
    for user_id in ended:
        bumped = connection.execute(
            update(AccountSecurity)
            .where(AccountSecurity.user_id == user_id)
            .values(session_version=AccountSecurity.session_version + 1)
        ).rowcount
        if not bumped:
            connection.execute(
                insert(AccountSecurity).values(
                    user_id=user_id, failed_logins=0, session_version=1, must_change_password=False
                )
            )
    connection.execute(
        delete(PasswordResetToken).where(PasswordResetToken.user_id.in_(ended), PasswordResetToken.used_at.is_(None))
    )


def register(session_class=None):
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    session_class = session_class or Session
    if not event.contains(session_class, "after_flush", _account_changes):
        event.listen(session_class, "after_flush", _account_changes)


# ---- forgotten passwords
#
# A link carries a random token and nothing else; only its SHA-256 is stored, so neither the
# database nor a copy of it opens an account. The mail that carries the link is account mail:
# never a customer-outbox row, never listed or shown to anyone, erased once sent.

RESET_TOKEN_BYTES = 32
ACCOUNT_MAIL_BACKOFF = datetime.timedelta(minutes=1)  # doubled after each failed attempt
ACCOUNT_MAIL_STALE_CLAIM = datetime.timedelta(minutes=15)


def _token_hash(token):
    import hashlib

    return hashlib.sha256((token or "").encode("utf-8")).hexdigest()


def request_password_reset(session, user, base_url, now, minutes):
    """Queue a reset link for ``user`` to its own email address (nothing for an unknown, disabled
    or address-less account: the caller answers the same either way). Returns the mail or None."""
    import secrets

    if user is None or not user.is_active or not user.email:
        return None
    expires_at = now + datetime.timedelta(minutes=minutes)
    token = secrets.token_urlsafe(RESET_TOKEN_BYTES)
    session.execute(
        PasswordResetToken.__table__.delete().where(  # housekeeping: dead links
            (PasswordResetToken.expires_at < now) | PasswordResetToken.used_at.isnot(None)
        )
    )
    session.add(
        PasswordResetToken(user_id=user.id, token_hash=_token_hash(token), created_at=now, expires_at=expires_at)
    )
    link = f"{base_url.rstrip('/')}/forgot/reset/{token}"
    mail = AccountMail(
        user_id=user.id,
        address=user.email,
        subject=str(_("Reset your password")),
        body=str(
            _(
                "Someone (hopefully you) asked to reset the password of %(username)s. Open this link "
                "within %(minutes)s minutes to choose a new one: %(link)s\nIf it was not you, ignore "
                "this email.",
                username=user.username,
                minutes=minutes,
                link=link,
            )
        ),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        expires_at=expires_at,
        created_at=now,
    )
    session.add(mail)
    session.commit()
    return mail


def _usable_token(token, now):

    return (
        PasswordResetToken.token_hash == _token_hash(token),
        PasswordResetToken.used_at.is_(None),
        PasswordResetToken.expires_at > now,
    )


def user_for_reset_token(session, token, now):
    """The active account a reset link is for, or None (unknown, expired, used or ended)."""
    from flask_appbuilder.security.sqla.models import User

    user_id = session.execute(select(PasswordResetToken.user_id).where(*_usable_token(token, now))).scalar()
    user = session.get(User, user_id) if user_id is not None else None
    return user if user is not None and user.is_active else None


def redeem_reset_token(session, token, now):
    """Spend a reset link: the account it is for, or None when it is no longer usable. Marked used
    with a conditional UPDATE (two submissions cannot both pass) in the caller's transaction: the
    caller sets the new password and commits, which also ends the account's other links."""

    user = user_for_reset_token(session, token, now)
    if user is None:
        return None
    spent = session.execute(
        update(PasswordResetToken)
        .where(*_usable_token(token, now))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    return user if spent == 1 else None


def deliver_account_mail(session, email_sender, now, max_attempts=4, backoff=ACCOUNT_MAIL_BACKOFF):
    """Send due account mail by email, each row once (claimed by a conditional UPDATE, like the outbox).
    The body is erased once the mail is sent, has failed for good or its link has expired.
    Returns {"sent": n, "retry": n, "failed": n}."""

    counts = {"sent": 0, "retry": 0, "failed": 0}
    session.execute(
        update(AccountMail)  # a worker killed while sending: send again
        .where(AccountMail.status == "sending", AccountMail.claimed_at < now - ACCOUNT_MAIL_STALE_CLAIM)
        .values(status="pending", next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    expired = session.execute(
        update(AccountMail)
        .where(AccountMail.status == "pending", AccountMail.expires_at <= now)
        .values(status="failed", body="", error="link expired before it was sent")
        .execution_options(synchronize_session=False)
    ).rowcount
    counts["failed"] += expired
    session.commit()
    due = (
        session.execute(
            select(AccountMail.id)
            .where(AccountMail.status == "pending", AccountMail.next_attempt_at <= now)
            .order_by(AccountMail.next_attempt_at, AccountMail.id)
        )
        .scalars()
        .all()
    )
    for mail_id in due:
        claimed = session.execute(
            update(AccountMail)
            .where(AccountMail.id == mail_id, AccountMail.status == "pending")
            .values(status="sending", claimed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.commit()
        if claimed != 1:
            continue
        mail = session.get(AccountMail, mail_id, populate_existing=True)
        try:
            if email_sender is None:
                raise PermanentFailure("email is not configured (SMTP_HOST)")
            email_sender.send(_Envelope(mail))
        except Exception as error:  # noqa: BLE001 - recorded on the row, never lost silently
            mail.attempts += 1
            mail.error = str(error)[:500]
            if not isinstance(error, PermanentFailure) and mail.attempts < max_attempts:
                mail.status, mail.next_attempt_at = "pending", now + backoff * (2 ** (mail.attempts - 1))
                counts["retry"] += 1
            else:
                mail.status, mail.body = "failed", ""
                counts["failed"] += 1
        else:
            mail.attempts += 1
            mail.status, mail.sent_at, mail.body, mail.error = "sent", now, "", None
            counts["sent"] += 1
        session.commit()
    return counts


class _Envelope:
    """What a sender reads of a message; the Message-ID prefix keeps account mail apart from outbox rows."""

    def __init__(self, mail):
        self.id = f"account-{mail.id}"
        self.address, self.subject, self.body, self.created_at = mail.address, mail.subject, mail.body, mail.created_at
