"""Portal sign-in by mobile number and one-time SMS code: throttled, single use, short-lived, hashed,
neutral about who is a customer, and never readable by staff."""

import datetime
import logging
import re

import time_machine
from sqlalchemy import select

from app.extensions import db
from app.models import OutboxMessage, PortalSignInAttempt, PortalSignInCode
from tests import factories

PHONE = "13912345678"


def _resident(session, phone=PHONE, name="王秀英"):
    customer = factories.customer(name=name, phone=phone, preferred_channel="wechat", wechat_openid=None)
    return customer.id


def _ask(client, phone=PHONE, next_path="", address="127.0.0.1"):
    return client.post(
        "/portal/sign-in",
        data={"action": "send", "phone": phone, "next": next_path},
        environ_base={"REMOTE_ADDR": address},
    )


def _verify(client, code, phone=PHONE, next_path=""):
    return client.post("/portal/sign-in", data={"action": "verify", "phone": phone, "code": code, "next": next_path})


def _code_from_outbox(phone=PHONE):
    db.session.expire_all()
    message = db.session.execute(
        select(OutboxMessage).where(OutboxMessage.address == phone).order_by(OutboxMessage.id.desc()).limit(1)
    ).scalar_one()
    return re.search(r"[0-9]{6}", message.body).group(0)


def _wrong(code):
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_resident_signs_in_with_the_code_from_the_sms(app, session):
    _resident(session)
    client = app.test_client()
    page = _ask(client)
    assert page.status_code == 200 and "验证码已发送至 139****5678" in page.get_data(as_text=True)
    message = db.session.execute(select(OutboxMessage)).scalar_one()
    assert message.channel == "sms" and message.address == PHONE and message.fallback == ""  # SMS whatever is preferred
    assert message.template_key == "portal_sign_in_code" and "5分钟内有效" in message.body
    code = _code_from_outbox()
    stored = db.session.execute(select(PortalSignInCode)).scalar_one()
    assert code not in (stored.code_hash or "") and len(stored.code_hash) == 64  # only a keyed hash is kept
    response = _verify(client, code)
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/")
    assert "王秀英" in client.get("/portal/").get_data(as_text=True)


def test_a_used_code_does_not_sign_in_again(app, session):
    _resident(session)
    _ask(app.test_client())
    code = _code_from_outbox()
    assert _verify(app.test_client(), code).status_code == 302
    again = app.test_client()
    response = _verify(again, code)
    assert response.status_code == 422 and "验证码不正确或已失效" in response.get_data(as_text=True)
    assert again.get("/portal/").status_code == 302


def test_a_new_code_replaces_the_earlier_one(app, session, now):
    _resident(session)
    client = app.test_client()
    _ask(client)
    first = _code_from_outbox()
    _ask(client)
    second = _code_from_outbox()
    if first != second:
        assert _verify(client, first).status_code == 422
    assert _verify(client, second).status_code == 302


def test_wrong_code_is_refused_and_signs_nobody_in(app, session):
    _resident(session)
    client = app.test_client()
    _ask(client)
    response = _verify(client, _wrong(_code_from_outbox()))
    assert response.status_code == 422 and "验证码不正确或已失效" in response.get_data(as_text=True)
    assert client.get("/portal/").status_code == 302
    assert _verify(client, "abc").status_code == 422  # not even digits: the same answer


def test_code_expires_after_the_configured_minutes(app, session, now):
    _resident(session)
    client = app.test_client()
    with time_machine.travel(now, tick=False):
        _ask(client)
    code = _code_from_outbox()
    with time_machine.travel(now + datetime.timedelta(minutes=app.config["CRM_PORTAL_CODE_MINUTES"], seconds=1)):
        assert _verify(client, code).status_code == 422
    assert client.get("/portal/").status_code == 302


def test_five_wrong_codes_lock_the_number_for_fifteen_minutes(app, session, now):
    _resident(session)
    client = app.test_client()
    with time_machine.travel(now, tick=False):
        _ask(client)
        code = _code_from_outbox()
        for _ in range(4):
            assert "验证码不正确" in _verify(client, _wrong(code)).get_data(as_text=True)
        fifth = _verify(client, _wrong(code)).get_data(as_text=True)
        assert "错误次数过多" in fifth and "15" in fifth
        locked = _verify(client, code)  # even the right code
        assert locked.status_code == 422 and "错误次数过多" in locked.get_data(as_text=True)
        assert "错误次数过多" in _ask(client).get_data(as_text=True)  # and no new code goes out
    assert client.get("/portal/").status_code == 302
    with time_machine.travel(now + datetime.timedelta(minutes=14, seconds=50), tick=False):
        assert "错误次数过多" in _ask(client).get_data(as_text=True)
    with time_machine.travel(now + datetime.timedelta(minutes=15, seconds=1), tick=False):
        assert "验证码已发送" in _ask(client).get_data(as_text=True)
        assert _verify(client, _code_from_outbox()).status_code == 302


def test_codes_per_number_are_limited(app, session, now):
    _resident(session)
    limit = app.config["CRM_PORTAL_CODES_PER_NUMBER"]
    with time_machine.travel(now, tick=False):
        for n in range(limit):
            sent = _ask(app.test_client(), address=f"10.0.0.{n + 1}")  # a different address each time
            assert "验证码已发送" in sent.get_data(as_text=True)
        refused = _ask(app.test_client(), address="10.0.1.1")
        assert refused.status_code == 422 and "请求过于频繁" in refused.get_data(as_text=True)
    assert db.session.query(OutboxMessage).count() == limit
    with time_machine.travel(now + datetime.timedelta(minutes=15, seconds=1), tick=False):
        assert "验证码已发送" in _ask(app.test_client()).get_data(as_text=True)


def test_codes_per_client_address_are_limited(app, session, now):
    app.config["CRM_PORTAL_CODES_PER_ADDRESS"] = 4
    try:
        client, address = app.test_client(), "203.0.113.9"
        with time_machine.travel(now, tick=False):
            for n in range(4):
                assert "验证码已发送" in _ask(client, f"1390000{n:04d}", address=address).get_data(as_text=True)
            refused = _ask(client, "13900009999", address=address)
            assert refused.status_code == 422 and "请求过于频繁" in refused.get_data(as_text=True)
            other = _ask(app.test_client(), "13900009999", address="203.0.113.10")
            assert "验证码已发送" in other.get_data(as_text=True)
        with time_machine.travel(now + datetime.timedelta(hours=1, seconds=1), tick=False):
            assert "验证码已发送" in _ask(client, "13900008888", address=address).get_data(as_text=True)
    finally:
        app.config["CRM_PORTAL_CODES_PER_ADDRESS"] = 20


def test_unknown_number_gets_the_same_answer_and_nothing_is_sent(app, session):
    _resident(session)
    known = _ask(app.test_client()).get_data(as_text=True)
    unknown = _ask(app.test_client(), "13800000000").get_data(as_text=True)
    assert "验证码已发送至 138****0000" in unknown
    assert re.sub("139[*0-9]{8}", "X", known) == re.sub("138[*0-9]{8}", "X", unknown)
    assert db.session.query(OutboxMessage).count() == 1  # only the customer's
    assert _verify(app.test_client(), "000000", "13800000000").status_code == 422


def test_bad_number_gets_a_clear_message(app, session):
    response = _ask(app.test_client(), "12345")
    assert response.status_code == 422 and "请输入11位手机号" in response.get_data(as_text=True)
    assert db.session.query(PortalSignInCode).count() == 0


def test_staff_see_the_sign_in_sms_with_the_code_masked(app, session, login):
    _resident(session)
    _ask(app.test_client())
    code = _code_from_outbox()
    message = db.session.execute(select(OutboxMessage)).scalar_one()
    staff = login("Service")
    page = staff.get(f"/outboxview/show/{message.id}").get_data(as_text=True)
    assert "您的登录验证码是 ******" in page and code not in page
    listing = staff.get("/outboxview/list/").get_data(as_text=True)
    assert code not in listing
    # with no gateway the delivery fails on SMS alone: no staff member is asked to pass the code on
    from app.core.clock import utcnow
    from app.models import Notification
    from app.notices.notify import deliver_outbox

    assert deliver_outbox(db.session, {}, utcnow())["failed"] == 1
    assert not [n for n in db.session.query(Notification) if code in (n.body or "")]
    db.session.expire_all()
    assert code not in (db.session.get(OutboxMessage, message.id).log or "")


def test_personal_portal_links_are_hidden_from_staff_too():
    from app.core.redaction import redact_for_staff

    text = "点击登录 https://crm.example/portal/link/eyJjdXN0b21lciI6MX0.abc-123 查看"
    assert redact_for_staff(text) == "点击登录 https://crm.example/portal/link/… 查看"


def test_demo_code_goes_to_the_server_log_only_without_a_gateway(app, session, caplog, monkeypatch):
    # the suite migrates its database in this process, and Alembic's logging setup switches off the
    # loggers that existed then; a server never migrates in its own process
    monkeypatch.setattr(logging.getLogger("app.portal.pages.sign_in"), "disabled", False)
    _resident(session)
    with caplog.at_level(logging.INFO, logger="app.portal.pages.sign_in"):
        _ask(app.test_client())
    code = _code_from_outbox()
    assert any(code in record.getMessage() for record in caplog.records)
    caplog.clear()
    app.config["CRM_SMS_GATEWAY_URL"] = "http://127.0.0.1:9/sms"
    try:
        with caplog.at_level(logging.INFO, logger="app.portal.pages.sign_in"):
            _ask(app.test_client(), address="10.9.9.9")
        assert not any(_code_from_outbox() in record.getMessage() for record in caplog.records)
    finally:
        app.config["CRM_SMS_GATEWAY_URL"] = None


def test_next_goes_only_to_portal_pages(app, session):
    for target, expected in [
        ("/portal/me", "/portal/me"),
        ("https://evil.example/portal/", "/portal/"),
        ("//evil.example/portal/", "/portal/"),
        ("/admin/", "/portal/"),
        ("/portal/\\evil", "/portal/"),
    ]:
        db.session.query(PortalSignInCode).delete()
        db.session.commit()
        _resident(session) if not db.session.query(OutboxMessage).count() else None
        client = app.test_client()
        _ask(client, next_path=target)
        response = _verify(client, _code_from_outbox(), next_path=target)
        location = response.headers["Location"]
        assert location in (expected, "http://localhost" + expected), (target, location)


def test_one_code_signs_in_once_when_two_submissions_race(app, session):
    """Another submission of the same code uses it between this one's read and its write: the
    conditional UPDATE finds it used, and this one signs nobody in."""
    from sqlalchemy import event

    from app.core.clock import utcnow
    from app.core.errors import DomainError
    from app.policy.principal import SYSTEM, acting_as
    from app.portal.codes import CodeRules, request_code, sign_in_with_code

    _resident(session)
    rules = CodeRules()
    with acting_as(SYSTEM):
        code = request_code(db.session, PHONE, "10.0.0.1", utcnow(), "test-secret", rules).code
    raced = []

    def the_other_submission(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE PORTAL_SIGN_IN_CODE SET TRIES") and not raced:
            raced.append(True)  # what the other's committed UPDATE leaves for this one's to find
            conn.exec_driver_sql("UPDATE portal_sign_in_code SET used_at = created_at WHERE used_at IS NULL")

    event.listen(db.engine, "before_cursor_execute", the_other_submission)
    try:
        with acting_as(SYSTEM):
            try:
                sign_in_with_code(db.session, PHONE, code, "10.0.0.1", utcnow(), "test-secret", rules)
                signed_in = True
            except DomainError:
                signed_in = False
    finally:
        event.remove(db.engine, "before_cursor_execute", the_other_submission)
    assert raced and not signed_in


def test_old_codes_and_attempts_are_deleted(app, session, now):
    _resident(session)
    client = app.test_client()
    with time_machine.travel(now, tick=False):
        _ask(client)
        _verify(client, "000000")
    with time_machine.travel(now + datetime.timedelta(days=1, minutes=1), tick=False):
        _ask(client)
    db.session.expire_all()
    assert db.session.query(PortalSignInCode).count() == 1
    assert db.session.query(PortalSignInAttempt).count() == 0


def test_a_signed_in_resident_skips_the_sign_in_page(app, session, resident_login):
    customer_id = _resident(session)
    response = resident_login(customer_id).get("/portal/sign-in?next=/portal/me")
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/me")
