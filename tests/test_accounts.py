"""Login protection: lockout, the password policy on every path that sets one, sessions that end."""
import datetime
import re

import pytest

from app.accounts import password_problem
from app.extensions import db
from app.models import AccountSecurity
from tests.conftest import PASSWORD, ROLE_USERS
from tests.test_notifications import smtp  # noqa: F401 - the SMTP server fixture


def attempt(app, username, password):
    client = app.test_client()
    response = client.post("/login/", data={"username": username, "password": password}, follow_redirects=True)
    return client, response


def logged_in(client):
    return client.get("/customerview/list/").status_code == 200


def test_five_failures_lock_the_account_with_the_generic_message(app, ctx, login):
    username = ROLE_USERS["Technician"]
    for _ in range(5):
        _client, response = attempt(app, username, "wrong-password-0")
    unknown = attempt(app, "nobody-here", "wrong-password-0")[1].get_data(as_text=True)
    client, response = attempt(app, username, PASSWORD)  # the right password, but locked
    assert not logged_in(client)
    message = "无效的用户名或密码"
    assert message in response.get_data(as_text=True) and message in unknown
    api = app.test_client().post("/api/v1/security/login", json={"username": username, "password": PASSWORD,
                                                                 "provider": "db"})
    assert api.status_code == 401  # the API login obeys the lock too
    state = db.session.get(AccountSecurity, app.appbuilder.sm.find_user(username=username).id)
    db.session.refresh(state)
    assert state.locked_until > datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=29)
    # an admin unlocks it
    login("Admin").post("/accountsecurityview/action_post", data={"action": "unlock", "rowid": [state.user_id]})
    client, _response = attempt(app, username, PASSWORD)
    assert logged_in(client)


def test_the_lock_expires(app, ctx):
    username = ROLE_USERS["Service"]
    for _ in range(5):
        attempt(app, username, "wrong-password-0")
    state = db.session.get(AccountSecurity, app.appbuilder.sm.find_user(username=username).id)
    state.locked_until = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)
    db.session.commit()
    assert logged_in(attempt(app, username, PASSWORD)[0])


def test_a_success_forgets_earlier_failures(app, ctx):
    username = ROLE_USERS["Supervisor"]
    for _ in range(4):
        attempt(app, username, "wrong-password-0")
    assert logged_in(attempt(app, username, PASSWORD)[0])
    for _ in range(4):
        attempt(app, username, "wrong-password-0")
    assert logged_in(attempt(app, username, PASSWORD)[0])


@pytest.mark.parametrize("password,names,refused", [
    ("short-1", [], True), ("qwertyuiop", [], True), ("Password123", [], True), ("aaaaaaaaaaaa", [], True),
    ("zhangsan2026", ["zhangsan2026"], True), ("Zhang.San@Wy2026", ["zhangsan"], False),
    ("物业管理员的密码2026", [], False),
])
def test_password_policy(password, names, refused):
    assert (password_problem(password, names) is not None) == refused


def test_weak_passwords_are_refused_on_fab_forms_and_api(app, ctx, login):
    admin = login("Admin")
    page = admin.post("/users/add", data={"first_name": "新", "last_name": "员工", "username": "newstaff",
                                          "email": "newstaff@example.com", "active": "y",
                                          "password": "newstaff", "conf_password": "newstaff",
                                          "roles": [str(app.appbuilder.sm.find_role("Service").id)]})
    assert app.appbuilder.sm.find_user(username="newstaff") is None
    assert "10" in page.get_data(as_text=True)
    api = admin.post("/api/v1/security/users/", json={
        "first_name": "新", "last_name": "员工", "username": "apistaff", "email": "apistaff@example.com",
        "active": True, "password": "1234567890", "roles": [app.appbuilder.sm.find_role("Service").id]})
    assert api.status_code == 400 and app.appbuilder.sm.find_user(username="apistaff") is None
    own = login("Service")
    own.post("/resetmypassword/form", data={"password": "short", "conf_password": "short"})
    assert logged_in(own)  # refused: still the old password, session untouched
    assert logged_in(attempt(app, ROLE_USERS["Service"], PASSWORD)[0])


def test_logout_ends_a_copied_session(app, ctx, login):
    client = login("Manager")
    copied = client.get_cookie("session").value
    client.get("/logout/")
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/customerview/list/").status_code == 302  # to the login page


def test_a_password_reset_by_an_admin_ends_the_users_sessions(app, ctx, login):
    victim = login("Technician")
    user = app.appbuilder.sm.find_user(username=ROLE_USERS["Technician"])
    assert victim.get("/mytodoview/list/").status_code == 200
    app.appbuilder.sm.reset_password(user.id, PASSWORD)
    assert victim.get("/mytodoview/list/").status_code == 302


def test_disabling_an_account_ends_its_sessions(app, ctx, login):
    client = login("Service")
    user = app.appbuilder.sm.find_user(username=ROLE_USERS["Service"])
    user.active = False
    db.session.commit()
    try:
        assert client.get("/customerview/list/").status_code == 302
    finally:
        user.active = True
        db.session.commit()


def test_pages_carry_the_security_headers(app, login):
    response = login("Service").get("/customerview/list/")
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "SAMEORIGIN"
    assert headers["Referrer-Policy"] == "same-origin"
    policy = headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in policy and "object-src 'none'" in policy
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    html = response.get_data(as_text=True)
    assert f'nonce="{nonce}"' in html  # FAB's and our script tags carry this response's nonce
    assert "<script>" not in html and "onchange=" not in html and "onclick=" not in html


def test_too_many_attempts_from_one_address_are_refused(app, ctx):
    app.config["CRM_LOGIN_RATE_LIMIT"] = 3
    try:
        for _ in range(3):
            attempt(app, "nobody", "wrong-password-0")
        client, _response = attempt(app, ROLE_USERS["Manager"], PASSWORD)  # right, but the 4th from this address
        assert not logged_in(client)
        api = app.test_client().post("/api/v1/security/login", json={
            "username": ROLE_USERS["Manager"], "password": PASSWORD, "provider": "db"})
        assert api.status_code == 401
    finally:
        app.config["CRM_LOGIN_RATE_LIMIT"] = 20
        from app.models import LoginThrottle

        db.session.query(LoginThrottle).delete()
        db.session.commit()


def test_idle_and_absolute_session_timeouts(app, ctx, login):
    import time

    client = login("Manager")
    assert logged_in(client)
    with client.session_transaction() as session:
        session["crm_seen_at"] = time.time() - 121 * 60
    assert client.get("/customerview/list/").status_code == 302
    client = login("Manager")
    with client.session_transaction() as session:
        session["crm_login_at"] = time.time() - 13 * 3600
    assert client.get("/customerview/list/").status_code == 302


def test_an_account_made_by_an_admin_must_choose_its_own_password_first(app, ctx, login):
    admin = login("Admin")
    role = app.appbuilder.sm.find_role("Service")
    admin.post("/users/add", data={"first_name": "新", "last_name": "同事", "username": "newdesk",
                                   "email": "newdesk@example.com", "active": "y", "password": "Initial-pass-2026",
                                   "conf_password": "Initial-pass-2026", "roles": [str(role.id)]})
    assert app.appbuilder.sm.find_user(username="newdesk") is not None
    client, _response = attempt(app, "newdesk", "Initial-pass-2026")
    response = client.get("/customerview/list/")
    assert response.status_code == 302 and "/resetmypassword/form" in response.headers["Location"]
    client.post("/resetmypassword/form", data={"password": "My-own-pass-2026", "conf_password": "My-own-pass-2026"})
    assert logged_in(client)


def test_a_forgotten_password_is_reset_through_an_emailed_single_use_link(app, ctx, smtp):  # noqa: F811
    import re

    from app.jobs import deliver_notifications
    from app.models import AccountMail, OutboxMessage

    client = app.test_client()
    assert "crm-forgot" in client.get("/login/").get_data(as_text=True)
    client.post("/forgot/", data={"username": "nobody-at-all"})
    assert db.session.query(AccountMail).count() == 0  # the same answer, and nothing sent
    client.post("/forgot/", data={"username": ROLE_USERS["Service"]})
    assert smtp.messages == []  # the request only queues
    assert db.session.query(OutboxMessage).count() == 0  # never in the customer outbox
    db.session.rollback()  # the job works in a session of its own
    old = dict(app.config)
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port)
    try:
        deliver_notifications(app)  # the scheduler's delivery job
    finally:
        app.config.clear()
        app.config.update(old)
    [(recipients, content)] = smtp.messages
    assert recipients == [f"{ROLE_USERS['Service']}@example.com"]
    import email

    body = email.message_from_string(content).get_payload(decode=True).decode("utf-8")
    link = re.search(r"https?://\S+(/forgot/reset/\S+)", body).group(1)
    assert "至少" in client.post(link, data={"password": "short", "conf_password": "short"},
                                 follow_redirects=True).get_data(as_text=True)
    client.post(link, data={"password": "Brand-new-pass-2026", "conf_password": "Brand-new-pass-2026"})
    assert logged_in(attempt(app, ROLE_USERS["Service"], "Brand-new-pass-2026")[0])
    again = client.post(link, data={"password": "Another-pass-2026", "conf_password": "Another-pass-2026"})
    assert again.status_code == 302 and "/forgot/" in again.headers["Location"]  # used once
    assert not logged_in(attempt(app, ROLE_USERS["Service"], "Another-pass-2026")[0])
    assert "/forgot/" in client.get("/forgot/reset/forged-token").headers["Location"]
    app.appbuilder.sm.reset_password(app.appbuilder.sm.find_user(username=ROLE_USERS["Service"]).id, PASSWORD)


def test_a_failed_login_costs_the_same_whether_or_not_the_account_exists(app, ctx, count_queries):
    """Same reply, same password-hash work (the stand-in hash has the stored hashes' method and
    cost) and the same kind of writes: a failure of an unknown name is logged like any other."""
    from flask_appbuilder.security.sqla.models import User

    from app.models import ChangeLog

    stored = db.session.query(User).filter_by(username="manager").one().password
    fake = app.config["AUTH_DB_FAKE_PASSWORD_HASH_CHECK"]
    assert stored.split("$")[0] == fake.split("$")[0]  # e.g. scrypt:32768:8:1 for both
    client = app.test_client()
    replies, writes = [], []
    for name in ("manager", "nobody-at-all"):
        with count_queries() as counter:
            response = client.post("/login/", data={"username": name, "password": "Wrong-password-2026"},
                                   follow_redirects=True)
        replies.append(response.get_data(as_text=True).count("无效的用户名或密码"))
        writes.append(sum(s.lstrip().upper().startswith(("INSERT", "UPDATE")) for s in counter.statements))
    assert replies[0] == replies[1] == 1
    assert writes[1] >= writes[0] - 1  # unknown: throttle, FAB's balancing update, the log line
    logged = db.session.query(ChangeLog).filter_by(action="login_failed").order_by(ChangeLog.id).all()
    assert [entry.summary for entry in logged] == ["manager", "nobody-at-all"]


def test_account_security_rows_name_their_account_and_open_their_history(app, ctx, login):
    """Regression: the account row's id and name had landed on the login-throttle model, so the
    row's change-history action failed and a throttle row could not be shown."""
    import datetime as dt

    from app.models import LoginThrottle

    username = ROLE_USERS["Technician"]
    attempt(app, username, "wrong-password-0")
    user_id = app.appbuilder.sm.find_user(username=username).id
    state = db.session.get(AccountSecurity, user_id)
    assert state.id == user_id and str(state) == str(state.user)
    throttle = LoginThrottle(ip="10.0.0.1", window_start=dt.datetime.now(dt.timezone.utc), attempts=3)
    assert str(throttle) == "10.0.0.1 3" and not hasattr(throttle, "user_id")
    response = login("Admin").post("/accountsecurityview/action_post",
                                   data={"action": "change_history", "rowid": [user_id]})
    assert response.status_code == 302 and f"/changelogview/record/AccountSecurity/{user_id}" in response.headers["Location"]
