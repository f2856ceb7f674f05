"""Login protection: lockout, the password policy on every path that sets one, sessions that end."""

import datetime
import re

import pytest

from app.policy.accounts import password_problem
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


def test_five_failures_lock_the_account_and_say_until_when(app, ctx, login):
    """The locked account is told it is locked and until when (local time); a name no account has
    reads exactly the same after as many failures, so the replies reveal no account names."""
    from app.core.clock import to_local

    username = ROLE_USERS["Technician"]
    replies = []
    for _ in range(5):
        replies.append(attempt(app, username, "wrong-password-0")[1].get_data(as_text=True))
    assert "无效的用户名或密码" in replies[0] and "已锁定" not in replies[0]
    unknown = [attempt(app, "nobody-here", "wrong-password-0")[1].get_data(as_text=True) for _ in range(5)]
    client, response = attempt(app, username, PASSWORD)  # the right password, but locked
    assert not logged_in(client)
    state = db.session.get(AccountSecurity, app.appbuilder.sm.find_user(username=username).id)
    db.session.refresh(state)
    assert state.locked_until > datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=29)
    until = to_local(state.locked_until).strftime("%Y-%m-%d %H:%M")
    locked = f"账户因多次登录失败已被锁定，请在 {until} 之后再试。"
    assert locked in replies[4] and locked in response.get_data(as_text=True)
    assert "无效的用户名或密码" in unknown[3] and "已锁定" not in unknown[3]
    assert locked in unknown[4]  # the same words and time (the failures came within the minute)
    assert locked in attempt(app, "nobody-here", "wrong-password-0")[1].get_data(as_text=True)
    api = app.test_client().post(
        "/api/v1/security/login", json={"username": username, "password": PASSWORD, "provider": "db"}
    )
    assert api.status_code == 401  # the API login obeys the lock too
    # an admin unlocks it
    login("Admin").post("/accountsecurityview/action_post", data={"action": "unlock", "rowid": [state.user_id]})
    client, _response = attempt(app, username, PASSWORD)
    assert logged_in(client)
    from app.models import LoginNameLock, LoginThrottle

    db.session.query(LoginNameLock).delete()
    db.session.query(LoginThrottle).delete()
    db.session.commit()


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


@pytest.mark.parametrize(
    "password,names,refused",
    [
        ("short-1", [], True),
        ("qwertyuiop", [], True),
        ("Password123", [], True),
        ("aaaaaaaaaaaa", [], True),
        ("zhangsan2026", ["zhangsan2026"], True),
        ("Zhang.San@Wy2026", ["zhangsan"], False),
        ("物业管理员的密码2026", [], False),
    ],
)
def test_password_policy(password, names, refused):
    assert (password_problem(password, names) is not None) == refused


def test_weak_passwords_are_refused_on_fab_forms_and_api(app, ctx, login):
    admin = login("Admin")
    page = admin.post(
        "/users/add",
        data={
            "first_name": "新",
            "last_name": "员工",
            "username": "newstaff",
            "email": "newstaff@example.com",
            "active": "y",
            "password": "newstaff",
            "conf_password": "newstaff",
            "roles": [str(app.appbuilder.sm.find_role("Service").id)],
        },
    )
    assert app.appbuilder.sm.find_user(username="newstaff") is None
    assert "10" in page.get_data(as_text=True)
    api = admin.post(
        "/api/v1/security/users/",
        json={
            "first_name": "新",
            "last_name": "员工",
            "username": "apistaff",
            "email": "apistaff@example.com",
            "active": True,
            "password": "1234567890",
            "roles": [app.appbuilder.sm.find_role("Service").id],
        },
    )
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
    client = login("Service")
    nonces = []
    for url in ("/customerview/list/", "/customerview/list/", "/ticketview/list/"):
        response = client.get(url)
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "SAMEORIGIN"
        assert headers["Referrer-Policy"] == "same-origin"
        policy = headers["Content-Security-Policy"]
        assert "frame-ancestors 'self'" in policy and "object-src 'none'" in policy
        nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
        html = response.get_data(as_text=True)
        # FAB's and our script tags carry this response's nonce, the layout's kept ones too (app.web.chrome)
        assert set(re.findall(r'nonce="([^"]*)"', html)) == {nonce}
        assert len(re.findall(r"<script", html)) == len(re.findall(r'<script[^>]* nonce="', html))
        assert "<script>" not in html and "onchange=" not in html and "onclick=" not in html
        nonces.append(nonce)
    assert len(set(nonces)) == 3


def test_too_many_attempts_from_one_address_are_refused(app, ctx):
    app.config["CRM_LOGIN_RATE_LIMIT"] = 3
    try:
        for _ in range(3):
            attempt(app, "nobody", "wrong-password-0")
        client, _response = attempt(app, ROLE_USERS["Manager"], PASSWORD)  # right, but the 4th from this address
        assert not logged_in(client)
        api = app.test_client().post(
            "/api/v1/security/login", json={"username": ROLE_USERS["Manager"], "password": PASSWORD, "provider": "db"}
        )
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
    admin.post(
        "/users/add",
        data={
            "first_name": "新",
            "last_name": "同事",
            "username": "newdesk",
            "email": "newdesk@example.com",
            "active": "y",
            "password": "Initial-pass-2026",
            "conf_password": "Initial-pass-2026",
            "roles": [str(role.id)],
        },
    )
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
    assert "至少" in client.post(
        link, data={"password": "short", "conf_password": "short"}, follow_redirects=True
    ).get_data(as_text=True)
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
            response = client.post(
                "/login/", data={"username": name, "password": "Wrong-password-2026"}, follow_redirects=True
            )
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
    response = login("Admin").post(
        "/accountsecurityview/action_post", data={"action": "change_history", "rowid": [user_id]}
    )
    assert (
        response.status_code == 302
        and f"/changelogview/record/AccountSecurity/{user_id}" in response.headers["Location"]
    )


def _clear_throttle():
    from app.models import LoginNameLock, LoginThrottle

    db.session.query(LoginThrottle).delete()
    db.session.query(LoginNameLock).delete()
    db.session.commit()


def test_an_office_behind_one_address_signs_in_freely(app, ctx):
    """Only failures count: more than CRM_LOGIN_RATE_LIMIT colleagues sign in from one address."""
    _clear_throttle()
    try:
        for _ in range(app.config["CRM_LOGIN_RATE_LIMIT"] + 5):
            assert logged_in(attempt(app, ROLE_USERS["Service"], PASSWORD)[0])
    finally:
        _clear_throttle()


def test_failures_are_counted_per_sign_in_name_too(app, ctx):
    """One name guessed from many addresses is refused after the limit, with a clear message."""
    _clear_throttle()
    app.config["CRM_LOGIN_RATE_LIMIT"] = 3
    try:
        for number in range(3):
            app.test_client().post(
                "/login/",
                data={"username": "ghost", "password": "wrong-password-0"},
                environ_base={"REMOTE_ADDR": f"10.0.0.{number + 1}"},
            )
        reply = app.test_client().post(
            "/login/",
            data={"username": "ghost", "password": "wrong-password-0"},
            environ_base={"REMOTE_ADDR": "10.0.0.9"},
            follow_redirects=True,
        )
        assert "此处登录失败次数过多" in reply.get_data(as_text=True)
        # another name from another address is not affected
        client = app.test_client()
        client.post(
            "/login/",
            data={"username": ROLE_USERS["Manager"], "password": PASSWORD},
            environ_base={"REMOTE_ADDR": "10.0.0.8"},
        )
        assert client.get("/customerview/list/", environ_base={"REMOTE_ADDR": "10.0.0.8"}).status_code == 200
    finally:
        app.config["CRM_LOGIN_RATE_LIMIT"] = 20
        _clear_throttle()


def remembered_login(app, role="Manager", remember=True):
    client = app.test_client()
    data = {"username": ROLE_USERS[role], "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    client.post("/login/", data=data)
    return client


def browser_restarted(client):
    """What closing the browser does: the session cookie (no expiry) is gone, lasting cookies stay."""
    client.delete_cookie("session")
    return client


def test_remember_me_keeps_the_session_after_the_browser_is_closed(app, ctx):
    page = app.test_client().get("/login/").get_data(as_text=True)
    assert "记住我" in page and 'name="remember"' in page
    forgotten = browser_restarted(remembered_login(app, remember=False))
    assert not logged_in(forgotten)
    client = remembered_login(app)
    assert client.get_cookie("remember_token") is not None and client.get_cookie("crm_remember") is not None
    assert PASSWORD not in client.get_cookie("remember_token").value + client.get_cookie("crm_remember").value
    assert logged_in(browser_restarted(client))
    assert logged_in(browser_restarted(client))


def test_a_remembered_session_outlives_the_idle_timeout_but_not_its_days(app, ctx):
    import time_machine

    from app.core.clock import utcnow

    client = remembered_login(app)
    start = utcnow()
    with time_machine.travel(start + datetime.timedelta(hours=13), tick=False):
        assert logged_in(client)  # past idle (2 h) and absolute (12 h) timeouts of a plain session
    with time_machine.travel(start + datetime.timedelta(days=app.config["CRM_REMEMBER_DAYS"], hours=1), tick=False):
        assert not logged_in(client)
        assert not logged_in(browser_restarted(client))


@pytest.mark.parametrize("ending", ["logout", "password", "disable"])
def test_logout_password_change_and_disabling_end_remembered_sessions(app, ctx, ending):
    role = {"logout": "Manager", "password": "Technician", "disable": "Supervisor"}[ending]
    kept = remembered_login(app, role)
    copied = {name: kept.get_cookie(name).value for name in ("remember_token", "crm_remember")}
    user = app.appbuilder.sm.find_user(username=ROLE_USERS[role])
    try:
        if ending == "logout":
            other = remembered_login(app, role)
            other.get("/logout/")
        elif ending == "password":
            app.appbuilder.sm.reset_password(user.id, PASSWORD)
        else:
            user.active = False
            db.session.commit()
        assert not logged_in(browser_restarted(kept))
        thief = app.test_client()
        for name, value in copied.items():
            thief.set_cookie(name, value)
        assert not logged_in(thief)
    finally:
        if ending == "disable":
            user.active = True
            db.session.commit()


def test_user_statistics_are_drawn_by_the_apps_own_charts(app, ctx, login):
    """权限管理 → 用户统计 no longer loads Google's chart loader: it works offline."""
    page = login("Admin").get("/userstatschartview/chart/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "crm-user-stats" in html and "用户统计" in html
    assert "gstatic" not in html and "google" not in html.lower()
    assert "/static/vendor/echarts/" in html and ROLE_USERS["Manager"] in html
    assert login("Service").get("/userstatschartview/chart/").status_code in (302, 403)
