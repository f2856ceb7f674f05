"""报事报修 / 我的报修: a resident's request becomes a ticket through the desk's rule (with its photos, all or
nothing), they follow what staff let them see, remind at most once per interval, cancel while new, rate
once; the desk sees portal requests and reminders, and the dashboard counts requests by channel."""

import base64
import datetime
import io
import os
import random
import struct
import zlib
from urllib.parse import quote

import pytest
import time_machine
from sqlalchemy import select

from app.extensions import db
from app.models import (
    DispatchRule,
    Notification,
    StaffProfile,
    Ticket,
    TicketAttachment,
    TicketEvent,
    TicketRating,
)
from tests import factories

WECHAT = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 MicroMessenger/8.0.47"
SAFARI = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Safari/604.1"


def png(width=2, height=2, noisy=False):
    """A real (tiny) PNG image; a noisy one does not compress (its size is about width × height × 3)."""
    noise = random.Random(width * height)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + (noise.randbytes(3 * width) if noisy else b"\xff\x00\x00" * width) for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


# a 1×1 baseline JPEG
JPG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////"
    "////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA="
)
PDF = b"%PDF-1.4\n" + b"0" * 200
EXE = b"MZ\x90\x00" + b"\x00" * 200


def files_in(app):
    folder = app.config["UPLOAD_FOLDER"]
    return set(os.listdir(folder)) if os.path.isdir(folder) else set()


@pytest.fixture
def residents(session):
    """Two residents, each with a unit of their own (the first in 1号楼): (mine, my_unit, theirs, their_unit)."""
    building = factories.building(name="1号楼")
    my_unit = factories.unit(building, number="102")
    their_unit = factories.unit(building, number="803")
    mine = factories.customer(name="王秀英", units=[my_unit])
    theirs = factories.customer(name="李建国", units=[their_unit])
    return mine.id, my_unit.id, theirs.id, their_unit.id


@pytest.fixture
def duty(session, user_id):
    """The demo's setup in small: repairs go to 工程部, where the technician is on duty."""
    engineering = factories.department(name="工程部")
    db.session.add(DispatchRule(ticket_type="repair", department_id=engineering.id))
    db.session.add(StaffProfile(user_id=user_id("Technician"), department_id=engineering.id, on_duty=True))
    db.session.add(StaffProfile(user_id=user_id("Supervisor"), department_id=engineering.id, on_duty=False))
    db.session.commit()
    return engineering.id


def submit(client, unit_id, photos=(), user_agent=SAFARI, **fields):
    data = {"type": "repair", "unit": str(unit_id), "description": "卫生间天花板漏水", **fields}
    data["photos"] = [(io.BytesIO(content), name) for content, name in photos]
    return client.post(
        "/portal/requests/new", data=data, content_type="multipart/form-data", headers={"User-Agent": user_agent}
    )


def only_ticket():
    db.session.expire_all()
    return db.session.execute(select(Ticket)).scalar_one()


def test_a_request_with_two_photos_becomes_a_numbered_ticket(app, session, residents, resident_login, today):
    mine, my_unit, *_ = residents
    before = files_in(app)
    client = resident_login(mine)
    tomorrow = today + datetime.timedelta(days=1)
    response = submit(
        client, my_unit, [(png(), "漏水.png"), (JPG, "天花板.jpg")], visit_at=f"{tomorrow:%Y-%m-%d}T09:30"
    )
    ticket = only_ticket()
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/portal/requests/{ticket.number}")
    assert ticket.number.startswith("WO")
    assert (ticket.customer_id, ticket.unit_id, ticket.type, ticket.channel) == (mine, my_unit, "repair", "web")
    assert ticket.title == "报修：1号楼-102"
    assert ticket.description == "卫生间天花板漏水"
    # 09:30 in the firm's zone (UTC+8) is 01:30 UTC
    assert ticket.preferred_visit_at == datetime.datetime.combine(
        tomorrow, datetime.time(1, 30), tzinfo=datetime.timezone.utc
    )
    assert ticket.response_due is not None and ticket.created_by_id is None  # SLA as for the desk; no staff author
    stored = {a.file for a in ticket.attachments}
    assert sorted(name.split("_sep_")[1] for name in stored) == ["天花板.jpg", "漏水.png"]
    assert files_in(app) - before == stored
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"已提交，工单号 {ticket.number}" in page
    assert "已提交报修" in page and "期望上门时间" in page


@pytest.mark.parametrize(
    "photos, message",
    [
        ([(png(), "好的.png"), (PDF, "说明.pdf")], "说明.pdf: 不支持此文件类型"),
        ([(png(), "好的.png"), (EXE, "照片.jpg")], "照片.jpg: 不支持此文件类型"),
        ([(png(), f"{n}.png") for n in range(10)], "最多上传 9 张照片"),
    ],
)
def test_bad_photos_save_nothing(app, session, residents, resident_login, photos, message):
    mine, my_unit, *_ = residents
    before = files_in(app)
    response = submit(resident_login(mine), my_unit, photos)
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert db.session.query(Ticket).count() == 0 and db.session.query(TicketAttachment).count() == 0
    assert files_in(app) == before


def test_a_photo_too_large_saves_nothing(app, session, residents, resident_login, monkeypatch):
    mine, my_unit, *_ = residents
    monkeypatch.setitem(app.config, "CRM_MAX_ATTACHMENT_MB", 0.001)  # about 1 KB
    before = files_in(app)
    response = submit(resident_login(mine), my_unit, [(png(), "小.png"), (png(40, 40, noisy=True), "大.png")])
    assert response.status_code == 200 and "大.png: 文件超过" in response.get_data(as_text=True)
    assert db.session.query(Ticket).count() == 0 and files_in(app) == before


def test_a_refused_request_removes_the_photos_it_stored(app, session, residents, resident_login):
    """The photos pass, the request does not (no description): no ticket and no stray file."""
    mine, my_unit, *_ = residents
    before = files_in(app)
    response = submit(resident_login(mine), my_unit, [(png(), "漏水.png")], description="  ")
    assert response.status_code == 200 and "请描述问题" in response.get_data(as_text=True)
    assert db.session.query(Ticket).count() == 0 and files_in(app) == before


def test_another_residents_unit_is_refused(app, session, residents, resident_login):
    mine, _my_unit, _theirs, their_unit = residents
    before = files_in(app)
    response = submit(resident_login(mine), their_unit, [(png(), "漏水.png")])
    assert response.status_code == 200 and "请选择您名下的房屋" in response.get_data(as_text=True)
    assert db.session.query(Ticket).count() == 0 and files_in(app) == before
    assert "803" not in resident_login(mine).get("/portal/requests/new").get_data(as_text=True)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"visit_at": "明天上午"}, "请按 2026-12-01 18:00 的格式填写上门时间"),
        ({"visit_at": "2026-11-20T09:00"}, "期望上门时间已过"),
        ({"type": "maintenance"}, "请选择诉求类型"),
        ({"unit": "abc"}, "请选择您名下的房屋"),
    ],
)
def test_bad_fields_are_refused_with_a_message(session, residents, resident_login, fields, message):
    mine, my_unit, *_ = residents
    response = submit(resident_login(mine), my_unit, **fields)
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert db.session.query(Ticket).count() == 0


def test_channel_is_wechat_inside_wechat_else_web(session, residents, resident_login):
    mine, my_unit, *_ = residents
    client = resident_login(mine)
    submit(client, my_unit, user_agent=WECHAT)
    submit(client, my_unit, user_agent=SAFARI)
    channels = db.session.execute(select(Ticket.channel).order_by(Ticket.id)).scalars().all()
    assert channels == ["wechat", "web"]


def test_a_request_is_dispatched_as_the_desks_are(session, residents, resident_login, duty, user_id):
    mine, my_unit, *_ = residents
    client = resident_login(mine)
    submit(client, my_unit)
    ticket = only_ticket()
    assert (ticket.status, ticket.assignee_id, ticket.department_id) == ("assigned", user_id("Technician"), duty)
    notice = db.session.execute(select(Notification).where(Notification.user_id == user_id("Technician"))).scalar_one()
    assert ticket.number in notice.title
    page = client.get(f"/portal/requests/{ticket.number}").get_data(as_text=True)
    assert "已派单给 工程部 测师傅" in page
    assert "tech" not in page  # the handler's account, full name and phone are not shown


def test_without_a_matching_rule_it_waits_in_the_pending_pool(session, residents, resident_login, login):
    mine, my_unit, *_ = residents
    submit(resident_login(mine), my_unit, user_agent=WECHAT)
    ticket = only_ticket()
    assert (ticket.status, ticket.assignee_id) == ("new", None)
    pool = login("Service").get("/pendingpoolview/list/").get_data(as_text=True)
    assert ticket.number in pool and "微信" in pool


def test_the_resident_sees_only_what_staff_let_them_see(app, session, residents, resident_login, duty, user_id):
    from app.policy.principal import SYSTEM, acting_as
    from app.tickets.lifecycle import add_note

    mine, my_unit, *_ = residents
    client = resident_login(mine)
    submit(client, my_unit)
    ticket = only_ticket()
    db.session.info["actor_id"] = user_id("Technician")
    try:
        with acting_as(SYSTEM):
            add_note(db.session, ticket, "内部：业主脾气大，注意沟通", ticket.created_at)
            add_note(db.session, ticket, "明早九点上门查看", ticket.created_at, visible_to_customer=True)
    finally:
        db.session.info.pop("actor_id")
    page = client.get(f"/portal/requests/{ticket.number}").get_data(as_text=True)
    assert "明早九点上门查看" in page and "物业留言" in page
    assert "业主脾气大" not in page
    assert "添加附件" not in page  # the history's bookkeeping lines are not the resident's


def test_photos_are_served_only_to_their_resident(app, session, residents, resident_login):
    mine, my_unit, theirs, _their_unit = residents
    client = resident_login(mine)
    content = png()
    submit(client, my_unit, [(content, "漏水.png")])
    ticket = only_ticket()
    name = ticket.attachments[0].file
    url = f"/portal/requests/{ticket.number}/photos/{name}"
    response = client.get(url)
    assert response.status_code == 200 and response.data == content and response.mimetype == "image/png"
    assert quote(name) in client.get(f"/portal/requests/{ticket.number}").get_data(as_text=True)
    assert resident_login(theirs).get(url).status_code == 404
    assert client.get(f"/portal/requests/{ticket.number}/photos/../../config.py").status_code == 404
    assert client.get(f"/portal/requests/{ticket.number}/photos/{'0' * 32}_sep_x.png").status_code == 404
    assert app.test_client().get(url).status_code == 302  # signed out: to the sign-in page


def test_another_residents_ticket_number_finds_nothing(session, residents, resident_login, now):
    mine, _my_unit, theirs, their_unit = residents
    submit(resident_login(theirs), their_unit)
    ticket = only_ticket()
    db.session.execute(Ticket.__table__.update().values(status="resolved", resolution="已修好"))
    db.session.commit()
    client = resident_login(mine)
    base = f"/portal/requests/{ticket.number}"
    assert client.get(base).status_code == 404
    assert client.get(f"/portal/requests/{ticket.id}").status_code == 404
    for action, data in (("remind", {}), ("cancel", {"reason": "不修了"}), ("rate", {"stars": "1"})):
        assert client.post(f"{base}/{action}", data=data).status_code == 404
    assert ticket.number not in client.get("/portal/requests").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.query(TicketRating).count() == 0
    assert db.session.query(TicketEvent).filter_by(kind="reminder").count() == 0


def test_my_requests_lists_mine_newest_first(session, residents, resident_login):
    mine, my_unit, theirs, their_unit = residents
    client = resident_login(mine)
    submit(client, my_unit, type="complaint", description="楼上噪音")
    submit(client, my_unit)
    submit(resident_login(theirs), their_unit)
    numbers = db.session.execute(select(Ticket.number).order_by(Ticket.id)).scalars().all()
    page = client.get("/portal/requests").get_data(as_text=True)
    listed = page.split('id="my-requests"')[1]  # (the flashes of the submissions come first)
    assert listed.index(numbers[1]) < listed.index(numbers[0]) and numbers[2] not in page
    assert "投诉：1号楼-102" in page and "新建" in page


def test_reminders_are_throttled_recorded_and_notified(app, session, residents, resident_login, duty, user_id, now):
    mine, my_unit, *_ = residents
    client = resident_login(mine)
    submit(client, my_unit)
    ticket = only_ticket()
    base = f"/portal/requests/{ticket.number}"

    def notices():
        return db.session.query(Notification).filter(Notification.title.like("住户催单%")).all()

    page = client.post(f"{base}/remind", follow_redirects=True).get_data(as_text=True)
    assert "已催单" in page and "您已催单" in page
    assert [n.user_id for n in notices()] == [user_id("Technician")]
    hours = app.config["CRM_PORTAL_REMINDER_HOURS"]
    with time_machine.travel(now + datetime.timedelta(hours=hours - 1), tick=False):
        page = client.post(f"{base}/remind", follow_redirects=True).get_data(as_text=True)
        assert "您已催过单" in page and "后可再次催单" in page
        assert db.session.query(TicketEvent).filter_by(ticket_id=ticket.id, kind="reminder").count() == 1
    with time_machine.travel(now + datetime.timedelta(hours=hours, minutes=1), tick=False):
        client.post(f"{base}/remind")
        db.session.expire_all()
        reminders = db.session.query(TicketEvent).filter_by(ticket_id=ticket.id, kind="reminder").all()
        assert len(reminders) == 2 and reminders[1].note == "住户第 2 次催单"
        assert len(notices()) == 2


def test_a_reminder_on_an_unassigned_request_goes_to_the_dispatchers(session, residents, resident_login, user_id):
    from app.policy.principal import users_with_permission
    from app.policy.permissions import ACTION_MANAGE, RESOURCE_TICKET

    mine, my_unit, *_ = residents
    client = resident_login(mine)
    submit(client, my_unit, type="suggestion", description="建议加装路灯")
    ticket = only_ticket()
    client.post(f"/portal/requests/{ticket.number}/remind")
    told = {n.user_id for n in db.session.query(Notification).filter(Notification.title.like("住户催单%"))}
    assert told and told == set(users_with_permission(db.session, ACTION_MANAGE, RESOURCE_TICKET))
    assert user_id("Technician") not in told


def test_cancel_only_while_new_with_the_reason(session, residents, resident_login, duty):
    mine, my_unit, *_ = residents
    client = resident_login(mine)
    submit(client, my_unit, type="inquiry", description="停车费怎么交")  # no rule: stays new
    submit(client, my_unit)  # dispatched
    waiting, dispatched = db.session.execute(select(Ticket).order_by(Ticket.id)).scalars().all()
    page = client.post(
        f"/portal/requests/{waiting.number}/cancel", data={"reason": "已自行解决"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "报修已取消" in page and "住户取消：已自行解决" in page
    page = client.post(f"/portal/requests/{dispatched.number}/cancel", follow_redirects=True).get_data(as_text=True)
    assert "只有尚未派单的报修可以取消" in page
    db.session.expire_all()
    assert (db.session.get(Ticket, waiting.id).status, db.session.get(Ticket, dispatched.id).status) == (
        "cancelled",
        "assigned",
    )
    event = db.session.query(TicketEvent).filter_by(ticket_id=waiting.id, kind="status").one()
    assert (event.to_status, event.note, event.actor_id) == ("cancelled", "住户取消：已自行解决", None)


def test_rating_once_when_finished(session, residents, resident_login):
    mine, my_unit, *_ = residents
    client = resident_login(mine)
    submit(client, my_unit)
    ticket = only_ticket()
    base = f"/portal/requests/{ticket.number}"
    page = client.post(f"{base}/rate", data={"stars": "5"}, follow_redirects=True).get_data(as_text=True)
    assert "该诉求尚未办结" in page
    db.session.execute(Ticket.__table__.update().values(status="resolved", resolution="更换了水管接头"))
    db.session.commit()
    page = client.get(base).get_data(as_text=True)
    assert "更换了水管接头" in page and "评价本次服务" in page
    assert "星级" in page
    page = client.post(f"{base}/rate", data={"stars": "7"}, follow_redirects=True).get_data(as_text=True)
    assert "请选择 1 到 5 星" in page
    assert db.session.query(TicketRating).count() == 0
    page = client.post(f"{base}/rate", data={"stars": "4", "comment": "师傅很专业"}, follow_redirects=True).get_data(
        as_text=True
    )
    assert "感谢您的评价" in page and "师傅很专业" in page
    page = client.post(f"{base}/rate", data={"stars": "1"}, follow_redirects=True).get_data(as_text=True)
    assert "该服务已经评价过了" in page
    rating = db.session.query(TicketRating).one()
    assert (rating.stars, rating.source, rating.recorded_by_id, rating.comment) == (4, "portal", None, "师傅很专业")


def test_staff_cannot_record_a_portal_rating(session, residents, user_id):
    from app.core.errors import DomainError
    from app.tickets.ratings import STAFF_SOURCES, check_rating

    mine, my_unit, *_ = residents
    ticket = factories.ticket(customer_id=mine, unit_id=my_unit, status="resolved")
    assert "portal" not in STAFF_SOURCES
    with pytest.raises(DomainError):
        check_rating(db.session, ticket, 5, "portal", user_id("Service"))


def test_desk_timeline_shows_portal_requests_and_reminders(session, residents, resident_login, login):
    mine, my_unit, *_ = residents
    client = resident_login(mine)
    submit(client, my_unit)
    ticket = only_ticket()
    client.post(f"/portal/requests/{ticket.number}/remind")
    page = login("Service").get(f"/customerview/timeline/{mine}").get_data(as_text=True)
    assert f"住户在线报修 {ticket.number}" in page
    assert f"住户催单 {ticket.number}" in page


def test_staff_ticket_page_shows_visit_time_channel_and_can_share_a_note(
    session, residents, resident_login, login, duty, today
):
    mine, my_unit, *_ = residents
    resident = resident_login(mine)
    visit = f"{today + datetime.timedelta(days=1):%Y-%m-%d} 09:30"
    submit(resident, my_unit, visit_at=visit, user_agent=WECHAT)
    ticket = only_ticket()
    desk = login("Service")
    page = desk.get(f"/ticketwork/{ticket.number}").get_data(as_text=True)
    assert "期望上门时间" in page and visit in page and "微信" in page
    desk.post(f"/ticketwork/{ticket.number}/note", data={"note": "已约好明早上门", "visible_to_customer": "1"})
    desk.post(f"/ticketwork/{ticket.number}/note", data={"note": "内部备注：先查楼上"})
    page = resident.get(f"/portal/requests/{ticket.number}").get_data(as_text=True)
    assert "已约好明早上门" in page and "先查楼上" not in page


def test_dashboard_counts_requests_by_channel(session, residents, resident_login, login):
    from app.reporting.dashboards import DashboardFilter, tickets_by_channel

    mine, my_unit, *_ = residents
    client = resident_login(mine)
    submit(client, my_unit, user_agent=WECHAT)
    submit(client, my_unit, user_agent=WECHAT)
    submit(client, my_unit, user_agent=SAFARI)
    factories.ticket(channel="phone")
    created = only_ticket_times()
    flt = DashboardFilter(start=created[0], end=created[1])
    data = tickets_by_channel(db.session, flt)
    assert dict(zip(data.labels, data.series[0]["data"])) == {"电话": 1, "微信": 2, "网页": 1}
    response = login("Manager").get(
        f"/dashboard/data/tickets_by_channel?start={created[0].isoformat()}&end={created[1].isoformat()}"
    )
    assert response.status_code == 200
    assert response.get_json()["labels"] == ["电话", "微信", "网页"]


def only_ticket_times():
    from app.core.clock import local_zone

    days = [t.astimezone(local_zone()).date() for t in db.session.execute(select(Ticket.created_at)).scalars()]
    return min(days), max(days)


def test_pages_need_a_resident(app, session, residents):
    client = app.test_client()
    for url in ("/portal/requests", "/portal/requests/new", "/portal/requests/WO1"):
        response = client.get(url)
        assert response.status_code == 302 and "/portal/sign-in" in response.headers["Location"]
    response = client.post("/portal/requests/WO1/remind")
    assert response.status_code == 302 and "/portal/sign-in" in response.headers["Location"]


def test_staff_session_is_not_a_resident_here(session, residents, login):
    response = login("Admin").get("/portal/requests/new")
    assert response.status_code == 302 and "/portal/sign-in" in response.headers["Location"]


def test_a_photo_on_a_note_reaches_the_resident_only_when_the_note_is_shared(session, residents, resident_login, login):
    mine, my_unit, *_ = residents
    resident = resident_login(mine)
    submit(resident, my_unit)
    ticket = only_ticket()
    desk = login("Service")
    for text, shared in (("维修后照片", "1"), ("内部照片", "")):
        desk.post(
            f"/ticketwork/{ticket.number}/note",
            data={"note": text, "visible_to_customer": shared, "file": (io.BytesIO(png()), f"{text}.png")},
            content_type="multipart/form-data",
        )
    events = {e.note: e.attachment for e in db.session.query(TicketEvent).filter_by(ticket_id=ticket.id, kind="note")}
    shared, internal = events["维修后照片"], events["内部照片"]
    page = resident.get(f"/portal/requests/{ticket.number}").get_data(as_text=True)
    assert quote(shared) in page and quote(internal) not in page
    assert resident.get(f"/portal/requests/{ticket.number}/photos/{shared}").status_code == 200
    assert resident.get(f"/portal/requests/{ticket.number}/photos/{internal}").status_code == 404


def test_two_reminders_at_once_record_one(app, session, residents, resident_login, now):
    """Two taps (or two phones) at the same moment: the ticket row is locked while the last reminder is
    read, so only one reminder is recorded and one notice sent."""
    import threading

    from app.tickets.resident_requests import remind, reminder_recipients

    mine, my_unit, *_ = residents
    submit(resident_login(mine), my_unit)
    number = only_ticket().number
    db.session.commit()
    barrier, outcomes = threading.Barrier(2), []

    def tap():
        with app.app_context():
            barrier.wait()
            try:
                remind(db.session, mine, number, now, datetime.timedelta(hours=4))
                outcomes.append("sent")
            except Exception as error:  # the second is told to wait
                outcomes.append(str(error))

    threads = [threading.Thread(target=tap) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes.count("sent") == 1 and any("后可再次催单" in outcome for outcome in outcomes), outcomes
    db.session.expire_all()
    assert db.session.query(TicketEvent).filter_by(kind="reminder").count() == 1
    assert db.session.query(Notification).filter(Notification.title.like("住户催单%")).count() == len(
        reminder_recipients(db.session, only_ticket())
    )


def test_the_home_page_offers_both_sections(session, residents, resident_login):
    mine, *_ = residents
    page = resident_login(mine).get("/portal/").get_data(as_text=True)
    assert 'href="/portal/requests/new"' in page and "报事报修" in page
    assert 'href="/portal/requests"' in page and "我的报修" in page
