"""通知公告: broadcasts sent to a resident are their notices; reading one is counted once in the
broadcast's statistics; a broadcast can go only to residents who have signed in to the portal."""

from sqlalchemy import select

from app.notices import broadcasts
from app.extensions import db
from app.models import Broadcast, Customer, NoticeRead
from app.core.column_types import utcnow
from tests import factories


def _send(title, building=None, **kw):
    broadcast = Broadcast(
        title=title,
        subject=kw.pop("subject", f"{title}通知"),
        body=kw.pop("body", "{customer_name}您好：" + title),
        status="draft",
        buildings=[building] if building is not None else [],
        **kw,
    )
    db.session.add(broadcast)
    db.session.commit()
    broadcasts.queue_broadcast(db.session, broadcast, utcnow(), "http://crm.local", "k")
    broadcast.status = "queued"
    db.session.commit()
    return broadcast.id


def _estate(session):
    east, west = factories.building(name="东苑"), factories.building(name="西苑")
    mine = factories.customer(name="王秀英", units=[factories.unit(building_obj=east)])
    theirs = factories.customer(name="李建国", units=[factories.unit(building_obj=west)])
    return east, west, mine.id, theirs.id


def test_notices_list_only_the_broadcasts_sent_to_the_resident(session, resident_login):
    east, west, mine, theirs = _estate(session)
    water = _send("停水", east)
    _send("电梯检修", west)
    everyone = _send("物业费调整")
    page = resident_login(mine).get("/portal/notices")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "停水通知" in text and "物业费调整通知" in text
    assert "电梯检修" not in text
    assert text.index("物业费调整通知") < text.index("停水通知")  # newest first
    assert text.count("未读") == 2
    assert water and everyone


def test_another_residents_notice_is_not_found(session, resident_login):
    east, west, mine, theirs = _estate(session)
    lift = _send("电梯检修", west)
    assert resident_login(mine).get(f"/portal/notices/{lift}").status_code == 404
    assert resident_login(mine).get("/portal/notices/999999").status_code == 404
    assert db.session.execute(select(NoticeRead)).all() == []


def test_opening_a_notice_counts_one_read_per_resident_in_the_broadcast_stats(session, resident_login):
    east, west, mine, theirs = _estate(session)
    factories.customer(name="东二", units=[factories.unit(building_obj=east)])
    water = _send("停水", east)
    client = resident_login(mine)
    page = client.get(f"/portal/notices/{water}")
    assert page.status_code == 200 and "王秀英您好：停水" in page.get_data(as_text=True)
    client.get(f"/portal/notices/{water}")  # opened again: still one read
    figures = broadcasts.stats(db.session, [water])[water]
    assert figures["total"] == 2
    assert figures["portal_read"] == 1 and figures["portal_read_rate"] == 50.0
    assert "未读" not in client.get("/portal/notices").get_data(as_text=True)


def test_the_broadcast_report_shows_the_portal_read_rate(session, resident_login, login):
    east, west, mine, theirs = _estate(session)
    water = _send("停水", east)
    resident_login(mine).get(f"/portal/notices/{water}")
    page = login("Admin").get(f"/broadcastview/report/{water}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "门户已读" in text and "1 (100.0%)" in text


def test_signed_out_visitor_and_staff_reach_no_notice(session, login, app):
    east, west, mine, theirs = _estate(session)
    water = _send("停水", east)
    for client in (app.test_client(), login("Admin")):
        response = client.get(f"/portal/notices/{water}")
        assert response.status_code == 302 and "/portal/sign-in" in response.headers["Location"]


def test_signing_in_to_the_portal_puts_a_resident_in_the_portal_segment(session, app, now):
    from app.portal.links import sign_in_url

    east, west, mine, theirs = _estate(session)
    segment = Broadcast(portal_residents=True)
    assert db.session.execute(broadcasts.segment(segment, now.date())).scalars().all() == []
    with app.test_request_context():
        link = sign_in_url(db.session.get(Customer, mine), base_url="http://localhost")
    response = app.test_client().get(link.replace("http://localhost", ""))
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/")
    db.session.expire_all()
    assert db.session.get(Customer, mine).portal_signed_in_at >= now
    assert db.session.execute(broadcasts.segment(segment, now.date())).scalars().all() == [mine]
    # combined with the other criteria, as every segment option is
    assert (
        db.session.execute(broadcasts.segment(Broadcast(portal_residents=True, buildings=[west]), now.date())).all()
        == []
    )


def test_the_broadcast_form_offers_the_portal_segment(session, login):
    page = login("Admin").get("/broadcastview/add")
    assert page.status_code == 200 and "仅限登录过住户门户的住户" in page.get_data(as_text=True)
