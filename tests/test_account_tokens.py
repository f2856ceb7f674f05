"""Secrets of an account on every path: password-reset links, API tokens, the forced password change,
and the client address behind a proxy.

Reset mail goes to a real SMTP server on loopback (aiosmtpd) through the scheduler's delivery job.
"""

import base64
import datetime
import email
import hashlib
import io
import os
import re
import subprocess
import sys
import textwrap

import pytest
import time_machine

from app.extensions import db
from tests.conftest import PASSWORD, ROLE_USERS
from tests.test_notifications import smtp  # noqa: F401 - the SMTP server fixture

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---- helpers


def deliver(app, smtp):  # noqa: F811
    """Run the scheduler's delivery job against the loopback SMTP server."""
    from app.jobs import deliver_notifications

    old = dict(app.config)
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port)
    try:
        return deliver_notifications(app)
    finally:
        app.config.clear()
        app.config.update(old)


def reset_links(smtp):  # noqa: F811
    links = []
    for _recipients, content in smtp.messages:
        body = email.message_from_string(content).get_payload(decode=True).decode("utf-8")
        links += re.findall(r"https?://\S+(/forgot/reset/\S+)", body)
    return links


def ask_for_reset(app, username):
    return app.test_client().post("/forgot/", data={"username": username})


def xlsx_text(data):
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data))
    return "\n".join(str(cell) for sheet in book for row in sheet.iter_rows(values_only=True) for cell in row)


def everything_stored(app):
    """The text of every row of every table: where a secret must not be."""
    from sqlalchemy import text

    with app.app_context(), db.engine.connect() as conn:
        return "\n".join(
            repr(tuple(row))
            for table in db.metadata.sorted_tables
            for row in conn.execute(text(f'SELECT * FROM "{table.name}"'))
        )


def api_login(app, role_or_name, password=PASSWORD, refresh=False):
    username = ROLE_USERS.get(role_or_name, role_or_name)
    response = app.test_client().post(
        "/api/v1/security/login",
        json={"username": username, "password": password, "provider": "db", "refresh": refresh},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def api_get(app, token, path="/api/v1/customer/"):
    return app.test_client().get(path, headers={"Authorization": f"Bearer {token}"})


def set_password(app, username, password):
    with app.app_context():
        sm = app.appbuilder.sm
        sm.reset_password(sm.find_user(username=username).id, password)


# ---- password-reset links


@pytest.mark.parametrize("role", ["Service", "Supervisor", "Manager", "Admin"])
def test_no_one_reads_a_reset_link_in_the_outbox(app, login, smtp, role):  # noqa: F811
    """Regression: the reset mail was a customer-outbox row, so anyone who may read the outbox could
    open the Admin's reset link and take the account over."""
    ask_for_reset(app, ROLE_USERS["Admin"])
    client = login(role)

    def pages():
        with app.app_context():
            from app.models import OutboxMessage

            ids = [row.id for row in db.session.query(OutboxMessage)]
        responses = [client.get("/outboxview/list/"), client.get("/outboxview/list/?_flt_0_status=pending")]
        responses += [client.get(f"/outboxview/show/{pk}") for pk in ids]
        export = client.get("/outboxview/export/")
        texts = [r.get_data(as_text=True) for r in responses]
        if export.status_code == 200 and export.mimetype.endswith("sheet"):
            texts.append(xlsx_text(export.data))
        return "\n".join(texts)

    waiting = pages()  # queued, not sent yet
    assert "/forgot/reset/" not in waiting
    deliver(app, smtp)
    [link] = reset_links(smtp)  # the owner got it
    token = link.rsplit("/", 1)[1]
    sent = pages()
    assert token not in waiting + sent and "/forgot/reset/" not in sent
    # and it is the owner's to use
    assert app.test_client().get(link).status_code == 200


def test_a_sent_reset_link_is_stored_nowhere(app, smtp):  # noqa: F811
    """Only a hash of the token is kept, and the mail that carried the link is erased once sent."""
    ask_for_reset(app, ROLE_USERS["Technician"])
    assert deliver(app, smtp)["sent"] == 1
    [link] = reset_links(smtp)
    token = link.rsplit("/", 1)[1]
    stored = everything_stored(app)
    assert token not in stored and "/forgot/reset/" not in stored
    assert hashlib.sha256(token.encode()).hexdigest() in stored
    assert deliver(app, smtp)["sent"] == 0  # sent once


def test_reset_tokens_are_random_carry_nothing_and_die_together(app, smtp, now):  # noqa: F811
    username = ROLE_USERS["Technician"]
    ask_for_reset(app, username)
    ask_for_reset(app, username)
    deliver(app, smtp)
    first, second = reset_links(smtp)
    with app.app_context():
        user = app.appbuilder.sm.find_user(username=username)
        fragment = user.password[-16:]
    for link in (first, second):
        token = link.rsplit("/", 1)[1]
        assert len(token) >= 40
        for part in token.split("."):  # no signed payload: nothing decodes to the id or the hash
            decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
            assert fragment.encode() not in decoded
    client = app.test_client()
    refused = client.post(first, data={"password": "short", "conf_password": "short"}, follow_redirects=True)
    assert "至少" in refused.get_data(as_text=True)  # a refused password does not spend the link
    done = client.post(first, data={"password": "Brand-new-pass-2026", "conf_password": "Brand-new-pass-2026"})
    try:
        assert done.status_code == 302 and "/login" in done.headers["Location"]
        for link in (first, second):  # using one ends every outstanding link of the account
            again = client.post(link, data={"password": "Another-pass-2026", "conf_password": "Another-pass-2026"})
            assert again.status_code == 302 and "/forgot/" in again.headers["Location"]
            assert "/forgot/" in client.get(link).headers["Location"]
    finally:
        set_password(app, username, PASSWORD)


def test_a_reset_link_expires_and_dies_with_any_password_change(app, smtp, now):  # noqa: F811
    username = ROLE_USERS["Service"]
    minutes = app.config["CRM_PASSWORD_RESET_MINUTES"]
    ask_for_reset(app, username)
    deliver(app, smtp)
    [link] = reset_links(smtp)
    client = app.test_client()
    with time_machine.travel(now + datetime.timedelta(minutes=minutes - 1), tick=False):
        assert client.get(link).status_code == 200
    with time_machine.travel(now + datetime.timedelta(minutes=minutes + 1), tick=False):
        assert "/forgot/" in client.get(link).headers["Location"]
    # a new link dies when the password is changed another way (here: an admin sets it)
    ask_for_reset(app, username)
    deliver(app, smtp)
    link = reset_links(smtp)[-1]
    assert client.get(link).status_code == 200
    set_password(app, username, PASSWORD)
    assert "/forgot/" in client.get(link).headers["Location"]


def test_a_reset_mail_not_sent_before_its_link_expires_is_dropped(app, smtp, now):  # noqa: F811
    ask_for_reset(app, ROLE_USERS["Manager"])
    minutes = app.config["CRM_PASSWORD_RESET_MINUTES"]
    with time_machine.travel(now + datetime.timedelta(minutes=minutes + 1), tick=False):
        deliver(app, smtp)
    assert smtp.messages == []
    assert "/forgot/reset/" not in everything_stored(app)


def test_the_forgot_page_answers_the_same_for_any_name(app, smtp):  # noqa: F811
    replies = []
    for name in (ROLE_USERS["Manager"], "nobody-at-all"):
        response = app.test_client().post("/forgot/", data={"username": name}, follow_redirects=True)
        page = response.get_data(as_text=True)
        replies.append((response.status_code, response.request.path, "重置密码的链接已发送" in page))
    assert replies[0] == replies[1] == (200, "/login/", True)
    deliver(app, smtp)
    assert [recipients for recipients, _content in smtp.messages] == [[f"{ROLE_USERS['Manager']}@example.com"]]


# ---- API tokens


def test_a_web_logout_ends_earlier_tokens_and_fresh_ones_work(app, login):
    """Regression: after the account's first web logout every token, even a fresh one, got
    "401 Error loading the user" (the cookie session-version check was applied to tokens)."""
    old = api_login(app, "Manager")["access_token"]
    assert api_get(app, old).status_code == 200
    login("Manager").get("/logout/")
    assert api_get(app, old).status_code == 401
    tokens = api_login(app, "Manager", refresh=True)
    assert api_get(app, tokens["access_token"]).status_code == 200
    refreshed = app.test_client().post(
        "/api/v1/security/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )
    assert refreshed.status_code == 200 and api_get(app, refreshed.get_json()["access_token"]).status_code == 200
    login("Manager").get("/logout/")
    stale = app.test_client().post(
        "/api/v1/security/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )
    assert stale.status_code == 401  # a refresh token is ended the same way


def test_a_password_change_ends_earlier_tokens_and_fresh_ones_work(app, login):
    username = ROLE_USERS["Supervisor"]
    old = api_login(app, "Supervisor")["access_token"]
    client = login("Supervisor")
    client.post("/resetmypassword/form", data={"password": "Changed-pass-2026", "conf_password": "Changed-pass-2026"})
    try:
        assert api_get(app, old).status_code == 401
        fresh = api_login(app, username, "Changed-pass-2026")["access_token"]
        assert api_get(app, fresh).status_code == 200
        assert client.get("/customerview/list/").status_code == 200  # the one who changed it stays in
    finally:
        set_password(app, username, PASSWORD)
    assert api_get(app, fresh).status_code == 401  # set again by someone else: ended too


def test_a_disabled_account_s_tokens_are_refused_for_good(app, login):
    username = ROLE_USERS["Technician"]
    old = api_login(app, "Technician")["access_token"]
    assert api_get(app, old, "/api/v1/ticket/").status_code == 200

    def set_active(active):
        with app.app_context():
            user = app.appbuilder.sm.find_user(username=username)
            user.active = active
            db.session.commit()

    set_active(False)
    try:
        assert api_get(app, old, "/api/v1/ticket/").status_code == 401
    finally:
        set_active(True)
    assert api_get(app, old, "/api/v1/ticket/").status_code == 401  # enabling again does not revive it
    assert api_get(app, api_login(app, "Technician")["access_token"], "/api/v1/ticket/").status_code == 200


def test_an_account_disabled_through_the_user_api_loses_its_tokens(app):
    with app.app_context():
        user = app.appbuilder.sm.find_user(username=ROLE_USERS["Service"])
        user_id, role_id = user.id, user.roles[0].id
    admin = {"Authorization": f"Bearer {api_login(app, 'Admin')['access_token']}"}
    old = api_login(app, "Service")["access_token"]
    response = app.test_client().put(
        f"/api/v1/security/users/{user_id}", headers=admin, json={"active": False, "roles": [role_id]}
    )
    assert response.status_code == 200, response.get_json()
    try:
        assert api_get(app, old).status_code == 401
    finally:
        app.test_client().put(
            f"/api/v1/security/users/{user_id}", headers=admin, json={"active": True, "roles": [role_id]}
        )
    assert api_get(app, old).status_code == 401
    assert api_get(app, api_login(app, "Service")["access_token"]).status_code == 200


def _new_account(app, admin_client, username):
    role = app.appbuilder.sm.find_role("Service")
    admin_client.post(
        "/users/add",
        data={
            "first_name": "新",
            "last_name": "同事",
            "username": username,
            "email": f"{username}@example.com",
            "active": "y",
            "password": "Initial-pass-2026",
            "conf_password": "Initial-pass-2026",
            "roles": [str(role.id)],
        },
    )
    assert app.appbuilder.sm.find_user(username=username) is not None


def test_a_new_account_must_change_its_password_before_using_the_api(app, ctx, admin_client):
    """Regression: the forced password change held for pages only; a token read the customers."""
    _new_account(app, admin_client, "tokendesk")
    tokens = api_login(app, "tokendesk", "Initial-pass-2026", refresh=True)  # the login itself works
    refused = api_get(app, tokens["access_token"])
    assert refused.status_code == 403 and "密码" in refused.get_json()["message"]
    assert api_get(app, tokens["access_token"], "/api/v1/ticket/1").status_code == 403
    refreshed = app.test_client().post(
        "/api/v1/security/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )
    assert refreshed.status_code == 200  # and so does the refresh
    assert api_get(app, refreshed.get_json()["access_token"]).status_code == 403
    web = app.test_client()
    web.post("/login/", data={"username": "tokendesk", "password": "Initial-pass-2026"})
    cookie = web.get("/api/v1/customer/")
    assert cookie.status_code == 403 and "密码" in cookie.get_json()["message"]
    assert (
        web.post(
            "/api/v1/security/login", json={"username": "tokendesk", "password": "Initial-pass-2026", "provider": "db"}
        ).status_code
        == 200
    )


def test_an_admin_made_account_keeps_api_access_after_its_forced_password_change(app, ctx, admin_client):
    """Regression: the forced change bumped the session version, after which no token worked."""
    _new_account(app, admin_client, "tokendesk2")
    web = app.test_client()
    web.post("/login/", data={"username": "tokendesk2", "password": "Initial-pass-2026"})
    web.post("/resetmypassword/form", data={"password": "My-own-pass-2026", "conf_password": "My-own-pass-2026"})
    assert web.get("/api/v1/customer/").status_code == 200
    token = api_login(app, "tokendesk2", "My-own-pass-2026")["access_token"]
    assert api_get(app, token).status_code == 200


# ---- the client address behind a proxy


def _attempts_by_address(limit, addresses):
    """Each (address, password) in turn on a fresh client: was it signed in?"""
    return textwrap.dedent(f"""
        import json
        from app import create_app

        app = create_app({{"TESTING": True, "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False,
                          "CRM_LOGIN_RATE_LIMIT": {limit}}})
        results = []
        for address, username, password in {addresses!r}:
            client = app.test_client()
            headers = {{"X-Forwarded-For": address}}
            client.post("/login/", data={{"username": username, "password": password}}, headers=headers)
            results.append(client.get("/customerview/list/", headers=headers).status_code == 200)
        print(json.dumps(results))
    """)


def test_behind_a_trusted_proxy_each_client_address_is_throttled_on_its_own(app):
    """Regression: behind the load balancer every user shared the balancer's address."""
    tries = [("203.0.113.7", "nobody", "wrong-password-0")] * 3 + [
        ("203.0.113.7", ROLE_USERS["Manager"], PASSWORD),
        ("198.51.100.9", ROLE_USERS["Manager"], PASSWORD),
    ]
    env = dict(os.environ, CRM_TRUSTED_PROXIES="1")
    result = subprocess.run(
        [sys.executable, "-c", _attempts_by_address(3, tries)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[false, false, false, false, true]"


def test_without_trusted_proxies_a_forwarded_address_is_ignored(app, ctx):
    app.config["CRM_LOGIN_RATE_LIMIT"] = 3
    try:
        for _ in range(3):
            app.test_client().post(
                "/login/",
                data={"username": "nobody", "password": "wrong-password-0"},
                headers={"X-Forwarded-For": "203.0.113.7"},
            )
        client = app.test_client()
        client.post(
            "/login/",
            data={"username": ROLE_USERS["Manager"], "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.9"},
        )
        assert client.get("/customerview/list/").status_code == 302  # one address: the 4th is refused
    finally:
        app.config["CRM_LOGIN_RATE_LIMIT"] = 20
