"""Broadcasts: segment selection, preview, queuing by the job (resumable), sending through the real
SMTP stand-in (kill mid-send, resume: everyone exactly once), tracked links and delivery reports."""

import datetime
import html
from decimal import Decimal

import pytest

from app.notices import broadcasts
from app.core.errors import DomainError
from app.extensions import db
from app.models import Broadcast, CustomerUnit, OutboxMessage
from app.notices.notify import deliver_outbox
from app.core.column_types import utcnow
from tests import factories
from tests.test_notifications import email_sender, smtp  # noqa: F401 - the SMTP server fixture

TODAY = datetime.date(2026, 11, 23)


@pytest.fixture
def estate(ctx):
    east, west = factories.building(name="东苑"), factories.building(name="西苑")
    vip = factories.tag(name="VIP")
    people = {}
    for name, building, kind, tags in (
        ("东一", east, "owner", [vip]),
        ("东二", east, "tenant", []),
        ("西一", west, "owner", [vip]),
        ("西二", west, "commercial", []),
    ):
        people[name] = factories.customer(
            name=name,
            type=kind,
            tags=tags,
            units=[factories.unit(building_obj=building)],
            email=f"{len(people)}@example.com",
            preferred_channel="email",
        )
    moved = factories.customer(name="已搬走", email="gone@example.com", preferred_channel="email")
    db.session.add(
        CustomerUnit(
            customer=moved, unit=factories.unit(building_obj=east), relation="owner", move_out=datetime.date(2025, 1, 1)
        )
    )
    db.session.commit()
    return east, west, vip, people


def names(broadcast):
    from app.models import Customer

    ids = db.session.execute(broadcasts.segment(broadcast, TODAY)).scalars().all()
    return sorted(db.session.get(Customer, i).name for i in ids)


def test_segments_combine_buildings_tags_type_and_arrears(estate):
    east, west, vip, people = estate
    assert names(Broadcast(buildings=[east])) == ["东一", "东二"]  # not the one who moved out
    assert names(Broadcast(tags=[vip])) == ["东一", "西一"]
    assert names(Broadcast(buildings=[east], tags=[vip])) == ["东一"]
    assert names(Broadcast(customer_type="commercial")) == ["西二"]
    factories.bill(
        customer_obj=people["西二"],
        unit_obj=factories.unit(building_obj=west),
        amount=Decimal("800"),
        due_date=TODAY - datetime.timedelta(days=40),
    )
    assert names(Broadcast(min_arrears=Decimal("500"))) == ["西二"]
    assert names(Broadcast(min_arrears=Decimal("900"))) == []


def compose(client, **data):
    values = {
        "title": "停水通知",
        "subject": "停水通知",
        "body": "{customer_name}您好：周六9点至12点停水。详情 {link}",
        "link_url": "https://wy.example.com/notice/1",
    }
    values.update(data)
    return client.post("/broadcastview/add", data=values)


def test_compose_preview_schedule_and_queue(app, login, estate):
    east, *_rest = estate
    desk = login("Service")
    response = compose(desk, buildings=[str(east.id)])
    assert response.status_code == 302 and "/broadcastview/report/" in response.headers["Location"]
    broadcast = db.session.query(Broadcast).one()
    page = desk.get(response.headers["Location"]).get_data(as_text=True)
    assert "2" in page and "东一您好" in page and "/b/" in page  # count and a rendered sample
    assert db.session.query(OutboxMessage).count() == 0
    desk.post(f"/broadcastview/schedule/{broadcast.id}", data={"at": ""})
    db.session.expire_all()
    assert db.session.get(Broadcast, broadcast.id).status == "scheduled"
    assert db.session.query(OutboxMessage).count() == 0  # the request only schedules
    assert broadcasts.queue_due_broadcasts(db.session, utcnow(), "http://crm.local", app.config["SECRET_KEY"]) == 1
    broadcast = db.session.get(Broadcast, broadcast.id)
    assert (broadcast.status, broadcast.recipient_count) == ("queued", 2)
    assert sorted(m.address for m in db.session.query(OutboxMessage)) == ["0@example.com", "1@example.com"]
    refused = desk.post(
        "/broadcastview/add", data={"title": "x", "subject": "x", "body": "{unknown}"}, follow_redirects=True
    )
    assert "{unknown}" in refused.get_data(as_text=True)  # the message names it; nothing saved
    db.session.expire_all()
    assert db.session.query(Broadcast).count() == 1


def test_a_later_time_waits_for_the_scheduler(app, login, estate):
    east, *_rest = estate
    desk = login("Service")
    compose(desk, buildings=[str(east.id)])
    broadcast = db.session.query(Broadcast).one()
    desk.post(f"/broadcastview/schedule/{broadcast.id}", data={"at": "2099-01-01T09:00"})
    assert broadcasts.queue_due_broadcasts(db.session, utcnow(), "http://crm.local", "k") == 0
    later = datetime.datetime(2099, 1, 1, 1, 1, tzinfo=datetime.timezone.utc)  # 09:01 in Shanghai
    assert broadcasts.queue_due_broadcasts(db.session, later, "http://crm.local", "k") == 1


def make_broadcast(people_count, created_by=None):
    building = factories.building()
    for i in range(people_count):
        factories.customer(
            name=f"住户{i}",
            email=f"r{i}@example.com",
            preferred_channel="email",
            units=[factories.unit(building_obj=building)],
        )
    broadcast = Broadcast(
        title="t",
        subject="通知",
        body="{customer_name}：电梯检修",
        buildings=[building],
        status="scheduled",
        scheduled_at=utcnow() - datetime.timedelta(minutes=1),
        created_by_id=created_by,
    )
    db.session.add(broadcast)
    db.session.commit()
    return broadcast


def test_queuing_killed_half_way_resumes_without_duplicates(app, ctx, monkeypatch):
    broadcast = make_broadcast(25)
    real, calls = broadcasts.customer_channels, {"n": 0}

    def dies_on_the_fourteenth(*args):
        calls["n"] += 1
        if calls["n"] == 14:
            raise SystemExit("killed")
        return real(*args)

    monkeypatch.setattr(broadcasts, "customer_channels", dies_on_the_fourteenth)
    with pytest.raises(SystemExit):
        broadcasts.queue_broadcast(db.session, broadcast, utcnow(), "http://crm.local", "k", chunk=10)
    db.session.rollback()
    assert db.session.query(OutboxMessage).count() == 10  # the first chunk was committed
    monkeypatch.setattr(broadcasts, "customer_channels", real)
    broadcasts.queue_due_broadcasts(db.session, utcnow(), "http://crm.local", "k")
    keys = [m.dedupe_key for m in db.session.query(OutboxMessage)]
    assert len(keys) == len(set(keys)) == 25


def test_sending_killed_mid_way_resumes_and_everyone_gets_it_once(app, ctx, smtp):  # noqa: F811
    broadcast = make_broadcast(30)
    broadcasts.queue_due_broadcasts(db.session, utcnow(), "http://crm.local", "k")
    sender = email_sender(smtp)
    real_send, sent = sender.send, {"n": 0}

    def killed_after_twelve(message):
        if sent["n"] == 12:
            raise SystemExit("killed")
        real_send(message)
        sent["n"] += 1

    sender.send = killed_after_twelve
    now = utcnow()
    with pytest.raises(SystemExit):
        deliver_outbox(db.session, {"email": sender}, now)
    db.session.rollback()
    assert len(smtp.messages) == 12
    sender.send = real_send
    deliver_outbox(db.session, {"email": sender}, now + datetime.timedelta(minutes=20), batch=10)  # throttled
    assert len(smtp.messages) == 22
    deliver_outbox(db.session, {"email": sender}, now + datetime.timedelta(minutes=21))
    recipients = [r[0] for r, _content in smtp.messages]
    assert len(recipients) == 30 and len(set(recipients)) == 30
    figures = broadcasts.stats(db.session, [broadcast.id])[broadcast.id]
    assert (figures["total"], figures["sent"], figures["waiting"], figures["failed"]) == (30, 30, 0, 0)


def test_tracked_links_count_the_first_click(app, ctx):
    import re

    broadcast = make_broadcast(1)
    broadcast.body, broadcast.link_url = "{customer_name}：详情 {link}", "https://wy.example.com/n/7"
    db.session.commit()
    broadcasts.queue_due_broadcasts(db.session, utcnow(), "http://crm.local", app.config["SECRET_KEY"])
    message = db.session.query(OutboxMessage).one()
    link = re.search(r"http://crm\.local(/b/\S+)", message.body).group(1)
    client = app.test_client()
    response = client.get(link)
    assert response.status_code == 302 and response.headers["Location"] == "https://wy.example.com/n/7"
    first = db.session.get(OutboxMessage, message.id).clicked_at
    client.get(link)
    db.session.expire_all()
    assert first is not None and db.session.get(OutboxMessage, message.id).clicked_at == first
    assert broadcasts.stats(db.session, [broadcast.id])[broadcast.id]["clicked"] == 1
    assert client.get("/b/forged-token").status_code == 404


def test_gateway_delivery_reports(app, ctx):
    broadcast = make_broadcast(1)
    broadcasts.queue_due_broadcasts(db.session, utcnow(), "http://crm.local", "k")
    message = db.session.query(OutboxMessage).one()
    client = app.test_client()
    report = {"reference": f"outbox-{message.id}", "status": "delivered"}
    assert client.post("/notify/receipt", json=report).status_code == 401
    app.config["CRM_GATEWAY_TOKEN"] = "gw-secret"
    try:
        headers = {"Authorization": "Bearer gw-secret"}
        assert client.post("/notify/receipt", json=report, headers=headers).status_code == 200
        assert client.post("/notify/receipt", json={"reference": "outbox-999999"}, headers=headers).status_code == 404
    finally:
        app.config["CRM_GATEWAY_TOKEN"] = None
    db.session.expire_all()
    assert db.session.get(OutboxMessage, message.id).delivered_at is not None
    assert broadcasts.stats(db.session, [broadcast.id])[broadcast.id]["delivered"] == 1


def test_a_saved_list_is_read_from_its_address_without_a_request(app, estate, user_id):
    """The scheduler queues broadcasts with no request at all: the saved list's building, filters and
    search come from its saved address, and the list page's own filter state is left untouched."""
    from flask import has_request_context

    from app.models import SavedListView

    east, west, vip, people = estate
    saved = SavedListView(
        name="东苑业主", view="CustomerView", query=f"building={east.id}&_flt_0_name=东", owner_id=user_id("Service")
    )
    db.session.add(saved)
    db.session.commit()
    view = next(v for v in app.appbuilder.baseviews if type(v).__name__ == "CustomerView")
    before = (list(view._filters.filters), list(view._filters.values))
    assert not has_request_context()
    assert names(Broadcast(saved_view=saved)) == ["东一", "东二"]
    saved.query = f"building={west.id}&q=一"
    assert names(Broadcast(saved_view=saved)) == ["西一"]
    # the view's filter state is shared by every request: a job's reading must leave it as it was
    assert (view._filters.filters, view._filters.values) == before


def test_a_saved_customer_list_is_a_segment(app, login, estate, user_id):
    from app.models import SavedListView

    east, west, vip, people = estate
    mine = SavedListView(name="东区住户", view="CustomerView", query="q=东", owner_id=user_id("Service"))
    private = SavedListView(name="主管的私人列表", view="CustomerView", query="q=西", owner_id=user_id("Supervisor"))
    db.session.add_all([mine, private])
    db.session.commit()
    with app.test_request_context():
        assert names(Broadcast(saved_view=mine)) == ["东一", "东二"]
        assert names(Broadcast(saved_view=mine, tags=[vip])) == ["东一"]
    desk = login("Service")
    form = desk.get("/broadcastview/add").get_data(as_text=True)
    assert "东区住户" in form and "主管的私人列表" not in form
    compose(desk, saved_view=str(private.id))  # someone else's private list: refused
    assert db.session.query(Broadcast).count() == 0
    compose(desk, saved_view=str(mine.id))
    assert db.session.query(Broadcast).one().saved_view_id == mine.id


# ---- the message text: plain {name} placeholders only, checked when saved, safe when rendered

HUGE = "{customer_name:>3000000}"


@pytest.mark.parametrize(
    "placeholder", [HUGE, "{customer_name!r}", "{customer_name.__class__}", "{customer_name[0]}", "{0}", "{}"]
)
def test_a_broadcast_with_a_format_spec_or_other_placeholder_tricks_is_refused_on_the_form(login, estate, placeholder):
    desk = login("Service")
    page = desk.post(
        "/broadcastview/add",
        data={"title": "停水通知", "subject": "停水通知", "body": f"您好{placeholder}"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert html.escape(placeholder, quote=False) in page
    assert db.session.query(Broadcast).count() == 0


def test_literal_braces_are_written_doubled(app, login, estate):
    desk = login("Service")
    assert compose(desk, body="{customer_name}您好：请回复{{1}}确认").status_code == 302
    broadcast = db.session.query(Broadcast).one()
    _subject, body = broadcasts.message_for(broadcast, estate[3]["东一"], "http://crm.local", "k")
    assert body == "东一您好：请回复{1}确认"


def test_a_bad_broadcast_text_is_refused_on_every_save_path(ctx):
    db.session.add(Broadcast(title="t", subject="通知", body=f"您好{HUGE}"))
    with pytest.raises(DomainError, match=r"customer_name:>3000000"):
        db.session.commit()
    db.session.rollback()
    assert db.session.query(Broadcast).count() == 0


def test_a_stored_bad_broadcast_renders_nothing_harmful_and_the_problem_is_reported(app, ctx):
    from sqlalchemy import update

    broadcast = make_broadcast(2)
    # a text saved before the rule (written straight to the table: no save path lets it in)
    db.session.execute(update(Broadcast).where(Broadcast.id == broadcast.id).values(body=f"您好{HUGE}"))
    db.session.commit()
    broadcasts.queue_due_broadcasts(db.session, utcnow(), "http://crm.local", "k")
    messages = db.session.query(OutboxMessage).all()
    assert len(messages) == 2
    for message in messages:
        assert len(message.body) < 100 and message.body == f"您好{HUGE}"
        assert "customer_name:>3000000" in message.log


def test_the_rendered_text_is_capped(app, ctx):
    from app.notices.notify import render
    from app.core.placeholders import MAX_RENDERED_CHARS

    text = render("{customer_name}" * 50, {"customer_name": "长" * 1000})
    assert len(text) == MAX_RENDERED_CHARS and text.endswith("…")


def test_a_refused_broadcast_does_not_lead_to_someone_elses_report(login, estate):
    assert compose(login("Service")).status_code == 302
    refused = compose(login("Admin"), body="{nonsense}")
    assert "/broadcastview/report/" not in refused.headers.get("Location", "")
    assert db.session.query(Broadcast).count() == 1
