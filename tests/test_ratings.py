"""Ratings: a personal link that is signed, expires and works once; ratings by phone; auto-close."""

import datetime
import re

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import update

from app.extensions import db
from app.models import Ticket, TicketEvent, TicketRating
from app.tickets.ratings import SALT, close_resolved, make_token
from tests import factories


def finished_ticket(status="resolved", **kw):
    ticket = factories.ticket(**kw)
    db.session.execute(update(Ticket).where(Ticket.id == ticket.id).values(status=status, resolution="已修复"))
    db.session.commit()
    db.session.expire_all()
    return db.session.get(Ticket, ticket.id)


def test_a_valid_link_records_one_rating_without_login(app, ctx):
    ticket = finished_ticket()
    client = app.test_client()
    token = make_token(app.config["SECRET_KEY"], ticket)
    page = client.get(f"/rate/{token}")
    assert page.status_code == 200 and ticket.number in page.get_data(as_text=True)
    done = client.post(f"/rate/{token}", data={"stars": "4", "comment": "师傅很专业"})
    assert "感谢您的评价" in done.get_data(as_text=True)
    rating = db.session.query(TicketRating).one()
    assert (rating.stars, rating.comment, rating.source) == (4, "师傅很专业", "link")


def test_a_reused_link_changes_nothing(app, ctx):
    ticket = finished_ticket()
    client = app.test_client()
    token = make_token(app.config["SECRET_KEY"], ticket)
    client.post(f"/rate/{token}", data={"stars": "5"})
    again = client.post(f"/rate/{token}", data={"stars": "1"})
    assert again.status_code == 400 and "已经评价" in again.get_data(as_text=True)
    assert [r.stars for r in db.session.query(TicketRating)] == [5]


def test_a_forged_link_gets_a_clear_page(app, ctx):
    ticket = finished_ticket()
    forged = URLSafeTimedSerializer("not-the-secret", salt=SALT).dumps({"ticket": ticket.id})
    for token in (forged, "garbage", make_token(app.config["SECRET_KEY"], ticket)[:-3] + "abc"):
        response = app.test_client().post(f"/rate/{token}", data={"stars": "1"})
        assert response.status_code == 400 and "评价链接无效" in response.get_data(as_text=True)
    assert db.session.query(TicketRating).count() == 0


def test_an_expired_link_gets_a_clear_page(app, ctx, monkeypatch):
    ticket = finished_ticket()
    token = make_token(app.config["SECRET_KEY"], ticket)
    monkeypatch.setitem(app.config, "CRM_RATING_LINK_DAYS", -1)
    response = app.test_client().post(f"/rate/{token}", data={"stars": "3"})
    assert response.status_code == 400 and "已过期" in response.get_data(as_text=True)
    assert db.session.query(TicketRating).count() == 0


def test_unfinished_tickets_cannot_be_rated_and_stars_are_checked(app, ctx):
    open_ticket = factories.ticket()
    token = make_token(app.config["SECRET_KEY"], open_ticket)
    assert app.test_client().post(f"/rate/{token}", data={"stars": "5"}).status_code == 400
    done = finished_ticket()
    token = make_token(app.config["SECRET_KEY"], done)
    app.test_client().post(f"/rate/{token}", data={"stars": "9"})
    assert db.session.query(TicketRating).count() == 0


def test_the_rating_link_goes_to_the_customer_only_and_the_history_says_it_was_sent(admin_client, ctx, app, user_id):
    from app.models import Notification, OutboxMessage

    customer = factories.customer(name="王芳", email="wf@example.com", preferred_channel="email")
    ticket = factories.ticket(customer=customer, assignee_id=user_id("Technician"))
    db.session.execute(update(Ticket).where(Ticket.id == ticket.id).values(status="in_progress"))
    db.session.commit()
    admin_client.put(f"/api/v1/ticket/{ticket.id}", json={"status": "resolved", "resolution": "更换了阀门"})
    event = db.session.query(TicketEvent).filter_by(ticket_id=ticket.id, to_status="resolved").one()
    assert "更换了阀门" in event.note and "评价链接已通过电子邮件发送给客户" in event.note
    # the history the technician reads carries no link, nor does anything in a staff inbox
    assert not [e for e in db.session.query(TicketEvent) if "/rate/" in (e.note or "")]
    assert not [n for n in db.session.query(Notification) if "/rate/" in (n.body or "")]
    assert "/rate/" not in login_page(app, "Technician", f"/ticketwork/{ticket.number}")
    # the customer's own message has it, and it works
    message = db.session.query(OutboxMessage).one()
    assert (message.customer_id, message.channel) == (customer.id, "email")
    link = re.search(r"/rate/(\S+)", message.body).group(1)
    assert app.test_client().get(f"/rate/{link}").status_code == 200


def login_page(app, role, url):
    from tests.conftest import PASSWORD, ROLE_USERS

    client = app.test_client()
    client.post("/login/", data={"username": ROLE_USERS[role], "password": PASSWORD})
    return client.get(url).get_data(as_text=True)


def test_staff_cannot_record_a_rating_as_the_customers_own(login, ctx):
    ticket = finished_ticket()
    page = login("Service").post(
        "/ticketratingview/add",
        data={"ticket": str(ticket.id), "stars": "5", "comment": "很好", "source": "link"},
        follow_redirects=True,
    )
    assert db.session.query(TicketRating).count() == 0
    assert "电话回访" in login("Service").get("/ticketratingview/add").get_data(as_text=True)
    assert 'value="link"' not in login("Service").get("/ticketratingview/add").get_data(as_text=True)
    assert page.status_code == 200


def test_a_second_rating_by_staff_gets_a_clear_message(login, ctx, user_id):
    ticket = finished_ticket()
    client = login("Service")
    client.post("/ticketratingview/add", data={"ticket": str(ticket.id), "stars": "3", "source": "phone"})
    page = client.post(
        "/ticketratingview/add", data={"ticket": str(ticket.id), "stars": "1", "source": "visit"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "已经评价" in page
    assert [(r.stars, r.source) for r in db.session.query(TicketRating)] == [(3, "phone")]


def test_a_rating_recorded_in_code_keeps_link_and_staff_sources_apart(ctx, now, user_id):
    from app.core.errors import DomainError
    from app.tickets.ratings import record_rating

    ticket = finished_ticket()
    with pytest.raises(DomainError):
        record_rating(db.session, ticket, 4, "", "link", now, recorded_by_id=user_id("Service"))
    with pytest.raises(DomainError):
        record_rating(db.session, ticket, 4, "", "phone", now)  # who took it by phone?
    record_rating(db.session, ticket, 4, "", "phone", now, recorded_by_id=user_id("Service"))
    rating = db.session.query(TicketRating).one()
    assert (rating.source, rating.recorded_by_id) == ("phone", user_id("Service"))


def test_staff_record_a_rating_taken_by_phone(login, ctx, user_id):
    ticket = finished_ticket()
    response = login("Service").post(
        "/ticketratingview/add", data={"ticket": str(ticket.id), "stars": "3", "comment": "电话回访", "source": "phone"}
    )
    assert response.status_code == 302
    rating = db.session.query(TicketRating).one()
    assert (rating.stars, rating.source, rating.recorded_by_id) == (3, "phone", user_id("Service"))


def test_resolved_tickets_close_by_themselves_after_the_configured_days(ctx):
    now = datetime.datetime(2026, 11, 23, tzinfo=datetime.timezone.utc)
    old = finished_ticket()
    recent = finished_ticket()
    db.session.execute(update(Ticket).where(Ticket.id == old.id).values(resolved_at=now - datetime.timedelta(days=8)))
    db.session.execute(
        update(Ticket).where(Ticket.id == recent.id).values(resolved_at=now - datetime.timedelta(days=2))
    )
    db.session.commit()
    assert close_resolved(db.session, now, 7) == 1
    assert close_resolved(db.session, now, 7) == 0
    db.session.expire_all()
    assert db.session.get(Ticket, old.id).status == "closed" and db.session.get(Ticket, recent.id).status == "resolved"


def test_two_auto_close_runs_at_once_close_each_ticket_once(app, ctx):
    """Two schedulers' (or a job and `flask crm sweep`) runs at the same moment: one history entry
    per ticket, never two."""
    import threading

    from sqlalchemy import func, select

    now = datetime.datetime(2026, 11, 23, tzinfo=datetime.timezone.utc)
    ids = [finished_ticket().id for _ in range(12)]
    db.session.execute(update(Ticket).where(Ticket.id.in_(ids)).values(resolved_at=now - datetime.timedelta(days=9)))
    db.session.commit()
    closed, start = [], threading.Barrier(2)

    def run():
        with app.app_context():
            db.session.info["actor_id"] = None
            start.wait()
            closed.append(close_resolved(db.session, now, 7))
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(closed) == len(ids)
    db.session.expire_all()
    per_ticket = dict(
        db.session.execute(
            select(TicketEvent.ticket_id, func.count())
            .where(TicketEvent.to_status == "closed")
            .group_by(TicketEvent.ticket_id)
        ).all()
    )
    assert per_ticket == {ticket_id: 1 for ticket_id in ids}
