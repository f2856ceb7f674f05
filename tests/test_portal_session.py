"""The portal's session: a resident principal of its own, no staff reach, staff sessions give nothing."""

import datetime

import time_machine
from sqlalchemy import select

from app.extensions import db
from app.models import Bill, Customer, Ticket
from app.policy.principal import acting_as, resident_principal
from tests import factories


def _two_residents(session):
    mine, theirs = factories.customer(name="王秀英"), factories.customer(name="李建国")
    session.add_all([mine, theirs])
    session.flush()
    my_ticket = factories.ticket(customer=mine, title="厨房漏水")
    their_ticket = factories.ticket(customer=theirs, title="门锁坏了")
    session.add_all([my_ticket, their_ticket])
    session.commit()
    return mine.id, theirs.id, my_ticket.id, their_ticket.id


def test_signed_out_visitor_is_sent_to_sign_in(app):
    response = app.test_client().get("/portal/")
    assert response.status_code == 302 and "/portal/sign-in" in response.headers["Location"]


def test_resident_sees_their_home_page(session, resident_login):
    mine, *_ = _two_residents(session)
    page = resident_login(mine).get("/portal/")
    assert page.status_code == 200
    assert "王秀英" in page.get_data(as_text=True)


def test_resident_session_reaches_no_staff_page_or_api(session, resident_login):
    mine, *_ = _two_residents(session)
    client = resident_login(mine)
    assert client.get("/customerview/list/").status_code in (302, 401, 403)
    assert "/login" in client.get("/customerview/list/").headers.get("Location", "/login")
    assert client.get("/api/v1/customer/").status_code == 401


def test_staff_session_is_not_a_resident(session, login):
    _two_residents(session)
    response = login("Admin").get("/portal/")
    assert response.status_code == 302 and "/portal/sign-in" in response.headers["Location"]


def test_resident_principal_reaches_only_their_own_rows(session):
    mine, theirs, my_ticket, their_ticket = _two_residents(session)
    db.session.expunge_all()
    with acting_as(resident_principal(mine)):
        assert db.session.get(Ticket, their_ticket) is None
        assert db.session.get(Ticket, my_ticket).title == "厨房漏水"
        assert db.session.get(Customer, theirs) is None
        assert db.session.execute(select(Customer.name)).scalars().all() == ["王秀英"]
        assert db.session.execute(select(Bill.id).where(Bill.customer_id == theirs)).all() == []
    with acting_as(resident_principal(None)):  # the portal before sign-in
        assert db.session.execute(select(Ticket.id)).all() == []


def test_personal_link_signs_its_resident_in(app, session):
    from app.portal.links import sign_in_url

    mine, *_ = _two_residents(session)
    link = sign_in_url(db.session.get(Customer, mine))
    client = app.test_client()
    response = client.get(link.replace(app.config["CRM_BASE_URL"], ""))
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/")
    assert "王秀英" in client.get("/portal/").get_data(as_text=True)


def test_forged_or_expired_link_signs_nobody_in(app, session, now):
    from app.portal.links import sign_in_url

    mine, *_ = _two_residents(session)
    link = sign_in_url(db.session.get(Customer, mine)).replace(app.config["CRM_BASE_URL"], "")
    client = app.test_client()
    response = client.get(link[:-3] + "xyz", follow_redirects=True)
    assert "链接已过期或无效" in response.get_data(as_text=True)
    assert client.get("/portal/").status_code == 302
    with time_machine.travel(now + datetime.timedelta(days=app.config["CRM_PORTAL_LINK_DAYS"] + 1), tick=False):
        client.get(link)
        assert client.get("/portal/").status_code == 302
    client.get(link)  # the same link in time
    assert client.get("/portal/").status_code == 200


def test_a_payment_reminder_carries_the_residents_portal_link_that_staff_never_read(app, session, now, today):
    import re

    from app.billing.bills import send_payment_reminders
    from app.models import Communication, OutboxMessage

    customer = factories.customer(name="欠费住户")
    factories.bill(customer_obj=customer, due_date=today - datetime.timedelta(days=40))
    assert send_payment_reminders(db.session, now, today, interval_days=7) == 1
    message = db.session.query(OutboxMessage).one()
    path = re.search(r"/portal/link/[A-Za-z0-9_\-.]+", message.body)[0]  # the text the channel sends
    client = app.test_client()
    client.get(path)
    assert "欠费住户" in client.get("/portal/").get_data(as_text=True)
    # what staff read of it: the outbox page and the communication log keep the link without its token
    assert path not in message.body_for_staff and "/portal/link/…" in message.body_for_staff
    summary = db.session.query(Communication).filter_by(customer_id=customer.id).one().summary
    assert path not in summary and "/portal/link/…" in summary


def test_a_message_passed_on_by_staff_never_carries_a_sign_in_link(session, now, user_id):
    from app.models import Notification, OutboxMessage
    from app.notices.notify import deliver_outbox
    from app.portal.links import sign_in_url

    customer = factories.customer(name="无渠道住户")
    link = sign_in_url(customer)
    db.session.add(
        OutboxMessage(
            dedupe_key="pass-on-test",
            template_key="completion_notice",
            customer=customer,
            channel="inapp",
            address=str(user_id("Service")),
            subject="您的诉求已处理完毕",
            body=f"欢迎为本次服务评价：http://crm.local/rate/abc123\n查看进度：{link}",
            status="pending",
            next_attempt_at=now,
            created_at=now,
        )
    )
    db.session.commit()
    deliver_outbox(db.session, {}, now)
    note = db.session.query(Notification).filter(Notification.title.contains("您的诉求已处理完毕")).one()
    assert "/rate/abc123" in note.body  # the rating link is read out to the customer by phone
    assert link.rsplit("/", 1)[1] not in note.body
