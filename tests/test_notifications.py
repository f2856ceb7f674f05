"""Notifications: templates, the staff inbox, and the outbox delivered by a job through real servers.

Email goes to a real SMTP server on loopback (aiosmtpd); SMS and WeChat to a local HTTP gateway.
"""

import datetime
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from app.notices.channels import EmailSender, GatewaySender, WeChatSender
from app.extensions import db
from app.models import MessageTemplate, Notification, OutboxMessage, StaffProfile, Ticket
from app.notices.notify import check_template, deliver_outbox, notify_customer, retry_failed
from app.core.errors import DomainError
from app.core.column_types import utcnow
from tests import factories

MINUTE = datetime.timedelta(minutes=1)
NOW = None


@pytest.fixture(autouse=True)
def _now():
    """Tickets are resolved at the real time; the job runs a minute later (set per test, not at import)."""
    global NOW
    NOW = utcnow().replace(microsecond=0) + MINUTE


class Mailbox:
    """An aiosmtpd handler: keeps what it receives; can answer 451 (try later) or 550 (refused)."""

    def __init__(self):
        self.messages = []
        self.fail_next = []  # SMTP replies to give instead of accepting, in order

    async def handle_DATA(self, server, session, envelope):
        if self.fail_next:
            return self.fail_next.pop(0)
        self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture
def smtp():
    import socket

    with socket.socket() as probe:  # a free loopback port (aiosmtpd needs a real number to start)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    mailbox.port = port
    yield mailbox
    controller.stop()


@pytest.fixture
def gateway():
    """A local stand-in for the SMS/WeChat HTTP gateway: records JSON posts, answers with set codes."""
    received, replies = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8"))
            code = replies.pop(0) if replies else 200
            if code == 200:
                received.append((self.path, self.headers.get("Authorization"), body))
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.received, server.replies = received, replies
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()


def email_sender(smtp):
    return EmailSender("127.0.0.1", smtp.port, sender="crm@wy.example")


def resolved_ticket(app, customer, user_id):
    db.session.info["actor_id"] = user_id("Service")  # the desk logs the request
    try:
        ticket = factories.ticket(
            customer=customer, title="卫生间漏水", assignee_id=user_id("Technician"), status="assigned"
        )
    finally:
        db.session.info["actor_id"] = None
    ticket.status = "in_progress"
    db.session.commit()
    ticket.resolution = "更换了角阀"
    ticket.status = "resolved"
    db.session.commit()
    return ticket


def test_resolving_queues_the_completion_notice_and_only_the_job_sends_it(app, ctx, smtp, user_id):
    customer = factories.customer(name="李娜", email="lina@example.com", preferred_channel="email")
    ticket = resolved_ticket(app, customer, user_id)
    message = db.session.query(OutboxMessage).one()
    assert (message.channel, message.address, message.status) == ("email", "lina@example.com", "pending")
    assert "/rate/" in message.body and "更换了角阀" in message.body and ticket.number in message.body
    assert smtp.messages == []  # nothing is sent inside the request

    assert deliver_outbox(db.session, {"email": email_sender(smtp)}, NOW + MINUTE) == {
        "sent": 1,
        "retry": 0,
        "failed": 0,
    }
    assert len(smtp.messages) == 1
    recipients, content = smtp.messages[0]
    assert recipients == ["lina@example.com"]
    assert "李娜" in content or "=E6=9D=8E" in content or "base64" in content.lower()
    # delivering again sends nothing twice
    assert deliver_outbox(db.session, {"email": email_sender(smtp)}, NOW + 5 * MINUTE)["sent"] == 0
    assert len(smtp.messages) == 1
    assert db.session.get(OutboxMessage, message.id).status == "sent"


def test_a_temporary_failure_is_retried_with_back_off_then_delivered_once(app, ctx, smtp, user_id):
    customer = factories.customer(email="wang@example.com", preferred_channel="email")
    resolved_ticket(app, customer, user_id)
    smtp.fail_next = ["451 4.3.0 try again later", "451 4.3.0 try again later"]
    senders = {"email": email_sender(smtp)}
    message = db.session.query(OutboxMessage).one()

    assert deliver_outbox(db.session, senders, NOW)["retry"] == 1
    db.session.refresh(message)
    assert (message.status, message.attempts, message.next_attempt_at) == ("pending", 1, NOW + MINUTE)
    assert deliver_outbox(db.session, senders, NOW + 30 * datetime.timedelta(seconds=1))["retry"] == 0  # not due
    assert deliver_outbox(db.session, senders, NOW + MINUTE)["retry"] == 1
    db.session.refresh(message)
    assert message.next_attempt_at == NOW + 3 * MINUTE  # back-off doubles
    assert deliver_outbox(db.session, senders, NOW + 3 * MINUTE)["sent"] == 1
    db.session.refresh(message)
    assert (message.status, message.attempts) == ("sent", 3)
    assert message.log.count("451") == 2  # every failure recorded
    assert len(smtp.messages) == 1


def test_two_workers_delivering_at_once_send_each_message_once(app, smtp, user_id):
    with app.app_context():
        customers = [factories.customer(email=f"c{i}@example.com", preferred_channel="email") for i in range(12)]
        for customer in customers:
            notify_customer(
                db.session, customer, "completion_notice", {"customer_name": customer.name}, f"test:{customer.id}", NOW
            )
        db.session.commit()
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        try:
            with app.app_context():
                barrier.wait()
                deliver_outbox(db.session, {"email": email_sender(smtp)}, NOW)
                db.session.remove()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(r[0] for r, _content in smtp.messages) == sorted(f"c{i}@example.com" for i in range(12))
    with app.app_context():
        assert {m.status for m in db.session.query(OutboxMessage)} == {"sent"}


def test_a_refused_channel_falls_back_to_the_next_in_order(app, ctx, gateway, user_id):
    customer = factories.customer(wechat_openid="oX9-openid", preferred_channel="wechat")
    resolved_ticket(app, customer, user_id)
    gateway.replies.append(400)  # WeChat refuses (e.g. the customer unfollowed the account)
    senders = {
        "wechat": WeChatSender(gateway.url + "/wechat", token="t0k", template_id="TPL1"),
        "sms": GatewaySender(gateway.url + "/sms", token="t0k"),
    }
    assert deliver_outbox(db.session, senders, NOW)["retry"] == 1  # moved to SMS at once
    assert deliver_outbox(db.session, senders, NOW)["sent"] == 1
    [(path, auth, body)] = gateway.received
    assert (path, auth, body["to"], body["channel"]) == ("/sms", "Bearer t0k", customer.phone, "sms")
    message = db.session.query(OutboxMessage).one()
    assert (message.channel, message.status) == ("sms", "sent") and "wechat: gateway HTTP 400" in message.log


def test_wechat_messages_use_the_template_message_shape(app, ctx, gateway, user_id):
    customer = factories.customer(wechat_openid="oX9-openid", preferred_channel="wechat")
    resolved_ticket(app, customer, user_id)
    deliver_outbox(db.session, {"wechat": WeChatSender(gateway.url, template_id="TPL1")}, NOW)
    [(_path, _auth, body)] = gateway.received
    assert (body["touser"], body["template_id"]) == ("oX9-openid", "TPL1")
    assert "/rate/" in body["data"]["remark"]["value"]


def test_channels_without_an_address_are_skipped(app, ctx, user_id):
    customer = factories.customer(preferred_channel="wechat")  # no openid, no email
    resolved_ticket(app, customer, user_id)
    message = db.session.query(OutboxMessage).one()
    assert (message.channel, message.address, message.fallback) == ("sms", customer.phone, "inapp")


def test_when_no_channel_can_deliver_a_staff_member_is_asked_to_pass_it_on(app, ctx, user_id):
    customer = factories.customer(name="周杰", preferred_channel="sms")
    resolved_ticket(app, customer, user_id)
    # no SMS gateway configured: permanent failure, then the in-app fallback
    deliver_outbox(db.session, {}, NOW)
    deliver_outbox(db.session, {}, NOW)
    message = db.session.query(OutboxMessage).one()
    assert (message.channel, message.status) == ("inapp", "sent")
    # the desk member who logged it passes the rating link on, never the handler being rated
    note = (
        db.session.query(Notification)
        .filter_by(user_id=user_id("Service"))
        .filter(Notification.title.contains("客户"))
        .one()
    )
    assert "周杰" in note.body and customer.phone in note.body and "/rate/" in note.body
    assert not [
        n for n in db.session.query(Notification).filter_by(user_id=user_id("Technician")) if "/rate/" in (n.body or "")
    ]


def test_a_handler_who_logged_the_request_is_not_asked_to_pass_on_their_own_rating_link(app, ctx, user_id):
    customer = factories.customer(name="周杰", preferred_channel="sms")
    db.session.info["actor_id"] = user_id("Supervisor")
    try:
        ticket = factories.ticket(customer=customer, title="卫生间漏水", assignee_id=user_id("Supervisor"))
        ticket.status = "in_progress"
        db.session.commit()
        ticket.resolution, ticket.status = "更换了角阀", "resolved"
        db.session.commit()
    finally:
        db.session.info["actor_id"] = None
    message = db.session.query(OutboxMessage).one()
    assert (message.channel, message.fallback) == ("sms", "")


def test_a_message_that_fails_everywhere_is_kept_as_failed_and_can_be_resent(app, ctx, smtp, user_id):
    customer = factories.customer(email="x@example.com", preferred_channel="email")
    message = notify_customer(db.session, customer, "completion_notice", {}, "k1", NOW)
    message.fallback = ""
    db.session.commit()
    smtp.fail_next = ["550 5.1.1 no such user"]
    assert deliver_outbox(db.session, {"email": email_sender(smtp)}, NOW)["failed"] == 1
    db.session.refresh(message)
    assert message.status == "failed" and "550" in message.log
    assert retry_failed(db.session, [message.id], NOW) == 1
    assert deliver_outbox(db.session, {"email": email_sender(smtp)}, NOW)["sent"] == 1
    assert retry_failed(db.session, [message.id], NOW) == 0  # a sent message is never queued again


def test_a_worker_killed_mid_send_is_resumed_with_the_same_message_id(app, ctx, smtp):
    customer = factories.customer(email="y@example.com", preferred_channel="email")
    message = notify_customer(db.session, customer, "completion_notice", {}, "k2", NOW)
    message.status, message.claimed_at = "sending", NOW
    db.session.commit()
    assert deliver_outbox(db.session, {"email": email_sender(smtp)}, NOW + 5 * MINUTE)["sent"] == 0  # may be alive
    deliver_outbox(db.session, {"email": email_sender(smtp)}, NOW + 20 * MINUTE)
    db.session.refresh(message)
    assert message.status == "sent" and "interrupted" in message.log
    [(_rcpt, content)] = smtp.messages
    assert f"Message-ID: <outbox-{message.id}-" in content


def test_the_same_notice_is_never_queued_twice(ctx):
    customer = factories.customer()
    assert notify_customer(db.session, customer, "completion_notice", {}, "same", NOW) is not None
    db.session.commit()
    assert notify_customer(db.session, customer, "completion_notice", {}, "same", NOW) is None
    assert db.session.query(OutboxMessage).count() == 1


def test_the_delivery_job_uses_the_configured_smtp_server(app, ctx, smtp, user_id):
    from app.jobs import deliver_notifications

    customer = factories.customer(email="job@example.com", preferred_channel="email")
    resolved_ticket(app, customer, user_id)
    old = dict(app.config)
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port)
    try:
        assert deliver_notifications(app)["sent"] == 1
    finally:
        app.config.clear()
        app.config.update(old)
    assert [r for r, _c in smtp.messages] == [["job@example.com"]]


# ---- templates


def test_templates_refuse_unknown_variables(ctx):
    check_template("completion_notice", "您的诉求已处理", "{customer_name}：{rating_link}")
    with pytest.raises(DomainError, match="ticket_id"):
        check_template("completion_notice", "x", "{ticket_id}")
    with pytest.raises(DomainError):
        check_template("completion_notice", "x", "{customer_name.__class__}")
    with pytest.raises(DomainError):
        check_template("completion_notice", "{", "x")


def test_admins_edit_a_template_and_the_next_notice_uses_it(app, ctx, login, user_id):
    template = db.session.query(MessageTemplate).filter_by(key="completion_notice").one_or_none()
    if template is None:
        from app.notices.notify import ensure_templates

        ensure_templates(db.session)
        template = db.session.query(MessageTemplate).filter_by(key="completion_notice").one()
    client = login("Admin")
    page = client.get(f"/messagetemplateview/edit/{template.id}").get_data(as_text=True)
    assert "{rating_link}" in page  # the variables are listed on the form
    bad = client.post(
        f"/messagetemplateview/edit/{template.id}",
        data={"subject": "完成", "body": "{nonsense}", "active": "y"},
        follow_redirects=True,
    )
    assert "nonsense" in bad.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(MessageTemplate, template.id).body != "{nonsense}"
    client.post(
        f"/messagetemplateview/edit/{template.id}",
        data={"subject": "【阳光物业】已完成", "body": "{customer_name}您好，评价请点 {rating_link}", "active": "y"},
    )
    assert login("Technician").get(f"/messagetemplateview/edit/{template.id}").status_code in (302, 403)
    resolved_ticket(app, factories.customer(name="陈晨"), user_id)
    message = db.session.query(OutboxMessage).one()
    assert message.subject == "【阳光物业】已完成" and message.body.startswith("陈晨您好，评价请点 http")


# ---- staff inbox


@pytest.fixture
def engineering(app, ctx, user_id):
    from app.models import DispatchRule

    technician, supervisor = user_id("Technician"), user_id("Supervisor")
    department = factories.department(name="工程部")
    db.session.add_all(
        [
            StaffProfile(user_id=technician, department=department, max_open_tickets=5),
            StaffProfile(user_id=supervisor, department=department, max_open_tickets=0),
            DispatchRule(ticket_type="repair", department=department),
        ]
    )
    db.session.commit()
    return department


def test_assignment_lands_in_the_assignees_inbox_with_the_badge_count(app, login, user_id, engineering):
    ticket = factories.ticket(title="电梯异响", unit=factories.unit())
    assert ticket.assignee_id == user_id("Technician")
    technician = login("Technician")
    assert technician.get("/inbox/unread").get_json() == {"count": 1}
    assert login("Service").get("/inbox/unread").get_json() == {"count": 0}
    page = technician.get("/inbox/").get_data(as_text=True)
    assert ticket.number in page and "电梯异响" in page
    note = db.session.query(Notification).one()
    assert login("Service").post(f"/inbox/read/{note.id}").status_code == 404  # not theirs
    response = technician.post(f"/inbox/read/{note.id}", data={"open": "1"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/ticketwork/{ticket.number}")
    assert technician.get("/inbox/unread").get_json() == {"count": 0}
    assert app.test_client().get("/inbox/unread").status_code == 401


def test_mark_all_read(app, login, user_id, engineering):
    factories.ticket(title="一"), factories.ticket(title="二")
    technician = login("Technician")
    assert technician.get("/inbox/unread").get_json() == {"count": 2}
    technician.post("/inbox/read-all")
    assert technician.get("/inbox/unread").get_json() == {"count": 0}


def test_escalation_tells_the_department_supervisor_then_the_managers_once(app, user_id, engineering):
    from app.tickets.sla import escalate_overdue

    ticket = factories.ticket(title="消防通道堵塞", created_at=NOW - 5 * datetime.timedelta(hours=1))
    escalate_overdue(db.session, NOW)
    escalate_overdue(db.session, NOW)  # a second sweep tells no one again
    supervisor = db.session.query(Notification).filter_by(user_id=user_id("Supervisor")).all()
    assert len(supervisor) == 1 and ticket.number in supervisor[0].title
    assert supervisor[0].link == f"/ticketwork/{ticket.number}"
    assert db.session.query(Notification).filter_by(user_id=user_id("Manager")).count() == 0
    escalate_overdue(db.session, NOW + 5 * datetime.timedelta(hours=1))
    managers = db.session.query(Notification).filter_by(user_id=user_id("Manager")).all()
    assert len(managers) == 1 and "2" in managers[0].title


def test_reassigning_by_hand_tells_the_new_assignee(app, ctx, login, user_id, engineering):
    ticket = factories.ticket(title="门禁失灵")
    db.session.query(Notification).delete()
    db.session.commit()
    ticket = db.session.get(Ticket, ticket.id)
    ticket.assignee_id = user_id("Supervisor")
    db.session.commit()
    assert [n.user_id for n in db.session.query(Notification)] == [user_id("Supervisor")]


def test_an_outbox_message_reads_as_its_channel_and_subject(ctx):
    # it used to be shadowed by a copy naming attributes the message does not have
    message = OutboxMessage(channel="sms", address="13800000000", subject="维修已完成", body="…")
    assert str(message).endswith(" 维修已完成")


def test_templates_refuse_format_specs_conversions_attributes_and_indexes(ctx):
    for placeholder in (
        "{customer_name:>3000000}",
        "{customer_name!r}",
        "{customer_name.__class__}",
        "{customer_name[0]}",
        "{0}",
        "{ customer_name }",
    ):
        with pytest.raises(DomainError, match=re.escape(placeholder)) as refused:
            check_template("completion_notice", "完成", f"您好{placeholder}")
        assert refused.value.field == "body"
    with pytest.raises(DomainError) as refused:
        check_template("completion_notice", "完成", "长" * 5000)
    assert "4000" in str(refused.value)
    check_template("completion_notice", "完成", "{{customer_name}} 是变量的写法：{customer_name}")


def test_a_template_with_a_format_spec_is_refused_on_the_form_and_every_other_save_path(app, ctx, login):
    from app.notices.notify import ensure_templates

    ensure_templates(db.session)
    template = db.session.query(MessageTemplate).filter_by(key="completion_notice").one()
    page = login("Admin").post(
        f"/messagetemplateview/edit/{template.id}",
        data={"subject": "完成", "body": "{customer_name:>3000000}", "active": "y"},
        follow_redirects=True,
    )
    assert "{customer_name:&gt;3000000}" in page.get_data(as_text=True)
    db.session.expire_all()
    template = db.session.query(MessageTemplate).filter_by(key="completion_notice").one()
    assert ":>" not in template.body
    template.body = "{customer_name:>3000000}"
    with pytest.raises(DomainError, match="customer_name:>3000000"):
        db.session.commit()
    db.session.rollback()
    template.active = False  # an edit that leaves the text alone is not judged by it
    db.session.commit()


def test_a_stored_bad_template_renders_nothing_harmful_and_the_problem_is_reported(app, ctx, user_id):
    from sqlalchemy import update

    from app.notices.notify import ensure_templates

    ensure_templates(db.session)
    db.session.execute(
        update(MessageTemplate)
        .where(MessageTemplate.key == "completion_notice")
        .values(body="{customer_name:>3000000}{rating_link!s}{resolution}")
    )
    db.session.commit()
    resolved_ticket(app, factories.customer(name="孙丽", email="sl@example.com", preferred_channel="email"), user_id)
    message = db.session.query(OutboxMessage).one()
    assert message.body == "{customer_name:>3000000}{rating_link!s}更换了角阀"
    assert "customer_name:>3000000" in message.log and "rating_link!s" in message.log
