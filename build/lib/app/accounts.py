"""Account protection: lockout after repeated failures, the password policy, and ending sessions.

FAB keeps the whole session in the signed cookie, so a copied cookie outlives a logout. Each
account has a session version, written into the session at login; logout, a password change and
disabling the account bump it, and the user loader refuses a session with an older version.
"""
import datetime

from flask_babel import lazy_gettext as _
from sqlalchemy import select, update

from app.models import AccountSecurity, LoginThrottle

MIN_LENGTH = 10
# The most used passwords (global lists and the common Chinese ones); never accepted.
COMMON_PASSWORDS = {
    "1234567890", "12345678910", "123456789a", "1234567890a", "0123456789", "9876543210", "1111111111",
    "0000000000", "1234512345", "1q2w3e4r5t", "1qaz2wsx3edc", "qwertyuiop", "qwerty1234", "qwerty12345",
    "password12", "password123", "password1234", "passw0rd123", "p@ssw0rd123", "iloveyou12", "iloveyou123",
    "abc1234567", "abcd123456", "abcdefghij", "a123456789", "aa12345678", "woaini1314", "woaini520",
    "woaini5201314", "5201314520", "1314520520", "wang123456", "zhang123456", "li123456789", "admin12345",
    "admin123456", "administrator", "welcome123", "changeme123", "letmein123", "football123", "baseball123",
    "sunshine123", "princess123", "dragon1234", "monkey1234", "shadow1234", "master1234", "superman123",
    "zxcvbnm123", "asdfghjkl1", "asdfghjkl;", "1qazxsw23edc", "qazwsxedc123", "147258369a", "1472583690",
    "123qweasdzxc", "qweasdzxc123", "aaaaaaaaaa", "abc123abc123", "test123456", "root123456", "huawei12345",
    "xiaomi12345", "taobao12345", "baidu12345", "qq123456789", "wocaonima123",
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
        from app.extensions import db
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


def record_failure(session, user_id, now, max_failures, lock_minutes):
    """One more failed login; the ``max_failures``-th in a row locks the account for ``lock_minutes``."""
    state = _state(session, user_id)
    state.failed_logins = (state.failed_logins or 0) + 1
    state.last_failure_at = now
    if state.failed_logins >= max_failures:
        from app.audit import record_event

        state.locked_until = now + datetime.timedelta(minutes=lock_minutes)
        state.failed_logins = 0
        record_event(session, "locked", "User", user_id, f"{max_failures} failures", actor_id=user_id,
                     details={"locked_until": state.locked_until.isoformat()}, commit=False)
    session.commit()


def record_success(session, user_id):
    state = session.get(AccountSecurity, user_id)
    if state is not None and (state.failed_logins or state.locked_until):
        state.failed_logins, state.locked_until = 0, None
        session.commit()


def unlock(session, user_id):
    """An admin lifts a lock (and forgets earlier failures)."""
    session.execute(update(AccountSecurity).where(AccountSecurity.user_id == user_id)
                    .values(locked_until=None, failed_logins=0))
    session.commit()


# ---- sessions

def session_version(session, user_id):
    return session.execute(select(AccountSecurity.session_version)
                           .where(AccountSecurity.user_id == user_id)).scalar() or 0


def end_sessions(session, user_id):
    """Every session of this account issued before now stops working; returns the new version."""
    state = _state(session, user_id)
    state.session_version = (state.session_version or 0) + 1
    session.commit()
    return state.session_version



def require_password_change(session, user_id, required):
    state = _state(session, user_id)
    state.must_change_password = bool(required)
    session.commit()


# ---- attempts per client address (all workers share the table)

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
    session.execute(LoginThrottle.__table__.delete().where(
        LoginThrottle.window_start < start - datetime.timedelta(minutes=window_minutes)))
    session.commit()
    return allowed


# ---- session timeouts

def session_expired(login_at, seen_at, now_ts, idle_minutes, absolute_hours):
    """True when a session has been idle too long or has lived too long since the login."""
    if login_at is None or seen_at is None:
        return False  # a session from before these were recorded: the next login records them
    return now_ts - seen_at > idle_minutes * 60 or now_ts - login_at > absolute_hours * 3600


def _new_accounts_change_password(session, flush_context):
    """An account created by a signed-in person (an admin in the user pages or API) starts with
    ``must_change_password``; accounts made by `crm init` or the demo loader do not."""
    from flask_appbuilder.security.sqla.models import User
    from sqlalchemy import insert

    from app.records import current_actor_id

    new_users = [item.id for item in session.new if isinstance(item, User) and item.id is not None]
    if new_users and current_actor_id(session) is not None:
        session.connection().execute(insert(AccountSecurity), [
            {"user_id": user_id, "failed_logins": 0, "session_version": 0, "must_change_password": True}
            for user_id in new_users])


def register(session_class=None):
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    session_class = session_class or Session
    if not event.contains(session_class, "after_flush", _new_accounts_change_password):
        event.listen(session_class, "after_flush", _new_accounts_change_password)


# ---- forgotten passwords

RESET_SALT = "password-reset"


def reset_token(secret_key, user):
    """A link token for one account: it expires, and dies once the password changes (single use)."""
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(secret_key, salt=RESET_SALT).dumps([user.id, (user.password or "")[-16:]])


def user_for_reset_token(session, secret_key, token, max_age_minutes):
    """The account a reset link is for, or None (forged, expired, or already used)."""
    from flask_appbuilder.security.sqla.models import User
    from itsdangerous import BadSignature, URLSafeTimedSerializer

    try:
        user_id, fragment = URLSafeTimedSerializer(secret_key, salt=RESET_SALT).loads(
            token, max_age=max_age_minutes * 60)
    except (BadSignature, ValueError, TypeError):
        return None
    user = session.get(User, user_id)
    if user is None or not user.is_active or (user.password or "")[-16:] != fragment:
        return None
    return user


def send_reset_link(session, user, link, now):
    """Queue the reset email through the outbox (sent by the delivery job, never by the request)."""
    from app.models import OutboxMessage

    if not user.email:
        return None
    message = OutboxMessage(
        dedupe_key=f"password_reset:{user.id}:{now.isoformat()}", template_key=None, user_id=user.id,
        channel="email", address=user.email, fallback="", status="pending", attempts=0, next_attempt_at=now,
        created_at=now, subject=str(_("Reset your password")),
        body=str(_("Someone (hopefully you) asked to reset the password of %(username)s. Open this link "
                   "within an hour to choose a new one: %(link)s\nIf it was not you, ignore this email.",
                   username=user.username, link=link)))
    session.add(message)
    session.commit()
    return message
