"""The staff mobile work view (/m/): the same account, permissions, row scope and field levels as the
desktop pages, and the same domain rules for start, notes with photos, resolve, inspections and dispatch."""

import datetime
import io
import os
import re
import zoneinfo

import pytest

from app.facilities import maintenance
from app.extensions import db
from app.models import (
    FieldPermission,
    MaintenanceOccurrence,
    Notification,
    StaffProfile,
    Ticket,
    TicketEvent,
)
from tests import factories
from tests.test_maintenance import plan

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")


def reload(ticket):
    db.session.expire_all()
    return db.session.get(Ticket, ticket.id)


@pytest.fixture
def mine(ctx, user_id):
    """The technician's ticket for 吴芳 of 3号楼-1202, in the department of the technician and supervisor."""
    department = factories.department(name="工程部")
    db.session.add_all(
        [
            StaffProfile(user_id=user_id(role), department_id=department.id, max_open_tickets=0)
            for role in ("Technician", "Supervisor")
        ]
    )
    db.session.commit()
    unit = factories.unit(factories.building(name="3号楼"), number="1202")
    customer = factories.customer(name="吴芳", phone="13912345678", units=[unit])
    return factories.ticket(
        title="阳台漏水",
        description="阳台顶部渗水",
        customer=customer,
        unit=unit,
        assignee_id=user_id("Technician"),
        status="assigned",
        department=department,
    )


def set_level(app, role, resource, field, level):
    db.session.add(
        FieldPermission(role_id=app.appbuilder.sm.find_role(role).id, resource=resource, field=field, level=level)
    )
    db.session.commit()


def test_signed_out_visitor_is_sent_to_the_staff_sign_in(app):
    response = app.test_client().get("/m/")
    assert response.status_code == 302
    assert "/login/" in response.headers["Location"] and "next=" in response.headers["Location"]
    assert app.test_client().post("/m/tickets/WO1/start").status_code == 302


def test_a_resident_session_gives_nothing_here(session, resident_login, mine):
    client = resident_login(mine.customer_id)
    for url in ("/m/", f"/m/tickets/{mine.number}", "/m/inspections", "/m/pool"):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response.headers["Location"], url
    client.post(f"/m/tickets/{mine.number}/note", data={"note": "住户写的"})
    assert db.session.query(TicketEvent).filter_by(ticket_id=mine.id, kind="note").count() == 0


def test_my_open_tickets_by_deadline_with_remaining_time(login, ctx, user_id, now):
    me, slack = user_id("Technician"), datetime.timedelta(seconds=30)  # the frozen clock ticks
    factories.ticket(
        title="明天到期", assignee_id=me, status="assigned", deadline=now + datetime.timedelta(days=1) + slack
    )
    factories.ticket(
        title="两小时后",
        assignee_id=me,
        status="assigned",
        deadline=now + datetime.timedelta(hours=2, minutes=15) + slack,
    )
    factories.ticket(
        title="已逾期", assignee_id=me, status="assigned", deadline=now - datetime.timedelta(minutes=30) + slack
    )
    factories.ticket(title="已办结", assignee_id=me, status="resolved", deadline=now)
    factories.ticket(title="别人的工单", assignee_id=user_id("Supervisor"), status="assigned")
    page = login("Technician").get("/m/").get_data(as_text=True)
    assert page.index("已逾期") < page.index("两小时后") < page.index("明天到期")
    assert "已办结" not in page and "别人的工单" not in page
    assert "剩余 2 小时 15 分钟" in page and "已超时 30 分钟" in page and "剩余 1 天" in page
    assert "我的待办" in page and "portal.css" in page


def test_the_desktop_list_and_the_phone_share_the_rule(login, ctx, user_id, now):
    me = user_id("Technician")
    factories.ticket(title="进行中的工单", assignee_id=me, status="in_progress")
    factories.ticket(title="已关闭的工单", assignee_id=me, status="closed")
    for url in ("/m/", "/mytodoview/list/"):
        page = login("Technician").get(url).get_data(as_text=True)
        assert "进行中的工单" in page and "已关闭的工单" not in page, url


def test_the_ticket_card_shows_the_unit_and_the_phone_to_call(app, login, mine):
    page = login("Technician").get(f"/m/tickets/{mine.number}").get_data(as_text=True)
    assert "阳台漏水" in page and "吴芳" in page and "3号楼-1202" in page and "阳台顶部渗水" in page
    assert 'href="tel:13912345678"' in page
    assert 'capture="environment"' in page and "js/mobile_notes.js" in page


def test_a_masked_phone_is_shown_masked_without_a_call_link(app, login, mine):
    set_level(app, "Technician", "Customer", "phone", "masked")
    page = login("Technician").get(f"/m/tickets/{mine.number}").get_data(as_text=True)
    assert "139****5678" in page and "tel:" not in page and "13912345678" not in page


def test_a_hidden_phone_is_not_shown_at_all(app, login, mine):
    set_level(app, "Technician", "Customer", "phone", "hidden")
    page = login("Technician").get(f"/m/tickets/{mine.number}").get_data(as_text=True)
    assert "tel:" not in page and "5678" not in page and 'id="ticket-phone"' not in page


def test_another_departments_ticket_is_not_found_by_number(login, two_departments):
    mine, pool, colleague, other = two_departments
    client = login("Technician")
    assert client.get(f"/m/tickets/{mine.number}").status_code == 200
    assert client.get(f"/m/tickets/{other.number}").status_code == 404
    assert client.post(f"/m/tickets/{other.number}/note", data={"note": "看看"}).status_code == 404
    assert client.post(f"/m/tickets/{other.number}/start").status_code == 404


def test_start_note_with_photos_and_resolve_through_the_domain_rules(app, login, mine):
    client = login("Technician")
    client.post(f"/m/tickets/{mine.number}/start")
    assert reload(mine).status == "in_progress"

    response = client.post(
        f"/m/tickets/{mine.number}/note",
        content_type="multipart/form-data",
        data={
            "note": "已关闭总阀",
            "client_key": "k1-abcdefgh",
            "photos": [(io.BytesIO(PNG), "现场1.png"), (io.BytesIO(PNG), "现场2.png")],
        },
        headers={"X-Requested-With": "fetch"},
    )
    assert response.status_code == 200 and response.get_json()["ok"] is True
    notes = db.session.query(TicketEvent).filter_by(ticket_id=mine.id, kind="note").order_by(TicketEvent.id).all()
    assert [n.note for n in notes] == ["已关闭总阀", None]
    assert notes[0].attachment.endswith("_sep_现场1.png") and notes[1].attachment.endswith("_sep_现场2.png")
    card = client.get(f"/m/tickets/{mine.number}").get_data(as_text=True)
    assert "已关闭总阀" in card and card.count("<img ") == 2

    refused = client.post(f"/m/tickets/{mine.number}/resolve", data={"resolution": "  "}, follow_redirects=True)
    assert "办结前请填写处理结果" in refused.get_data(as_text=True) and reload(mine).status == "in_progress"
    client.post(f"/m/tickets/{mine.number}/resolve", data={"resolution": "更换防水层"})
    ticket = reload(mine)
    assert (ticket.status, ticket.resolution) == ("resolved", "更换防水层")


def test_a_refused_photo_adds_no_note_and_leaves_no_file(app, login, mine):
    folder = app.config["UPLOAD_FOLDER"]
    before = set(os.listdir(folder)) if os.path.isdir(folder) else set()
    response = login("Technician").post(
        f"/m/tickets/{mine.number}/note",
        content_type="multipart/form-data",
        data={"note": "见照片", "photos": [(io.BytesIO(PNG), "好.png"), (io.BytesIO(b"MZ\x90\x00" * 10), "坏.jpg")]},
        headers={"X-Requested-With": "fetch"},
    )
    assert response.status_code == 422 and "JPG" in response.get_json()["message"]
    assert db.session.query(TicketEvent).filter_by(kind="note").count() == 0
    assert (set(os.listdir(folder)) if os.path.isdir(folder) else set()) == before


def test_a_technician_cannot_note_or_start_a_colleagues_ticket(login, two_departments):
    mine, pool, colleague, other = two_departments
    client = login("Technician")
    response = client.post(
        f"/m/tickets/{colleague.number}/note", data={"note": "我来看看"}, headers={"X-Requested-With": "fetch"}
    )
    assert response.status_code == 404  # his scope is his own tickets
    assert client.post(f"/m/tickets/{colleague.number}/start").status_code == 404
    assert db.session.query(TicketEvent).filter_by(ticket_id=colleague.id, kind="note").count() == 0
    assert reload(colleague).status == "assigned"


def test_the_note_rule_refuses_who_may_see_but_not_work_a_ticket(app, login, two_departments):
    """A role that sees the department's tickets but does not work them (no can_manage): the note rule
    of the work page (app.tickets.lifecycle.check_note_allowed) refuses it, with its message."""
    from flask_appbuilder.security.sqla.models import Role

    mine, pool, colleague, other = two_departments
    sm = app.appbuilder.sm
    role = sm.find_role("Technician")
    pvm = sm.add_permission_view_menu("can_see_department", "Ticket")
    role.permissions.append(pvm)
    db.session.commit()
    try:
        response = login("Technician").post(
            f"/m/tickets/{colleague.number}/note", data={"note": "我来看看"}, headers={"X-Requested-With": "fetch"}
        )
        assert response.status_code == 403 and "分配给您" in response.get_json()["message"]
        assert db.session.query(TicketEvent).filter_by(ticket_id=colleague.id, kind="note").count() == 0
    finally:
        role = db.session.get(Role, role.id)
        role.permissions.remove(pvm)
        db.session.commit()


def test_a_note_sent_twice_with_the_same_key_is_saved_once(app, login, mine):
    client = login("Technician")
    data = {"note": "地下室没有信号，补发", "client_key": "0123456789abcdef"}
    first = client.post(f"/m/tickets/{mine.number}/note", data=data, headers={"X-Requested-With": "fetch"})
    again = client.post(f"/m/tickets/{mine.number}/note", data=data, headers={"X-Requested-With": "fetch"})
    assert first.get_json() == {"ok": True, "duplicate": False, "message": "已添加备注。"}
    assert again.get_json()["ok"] is True and again.get_json()["duplicate"] is True
    assert db.session.query(TicketEvent).filter_by(ticket_id=mine.id, kind="note").count() == 1
    # the same key on another ticket is another note; a key that is not one of ours is refused
    other = factories.ticket(assignee_id=mine.assignee_id, status="assigned")
    client.post(f"/m/tickets/{other.number}/note", data=data)
    assert db.session.query(TicketEvent).filter_by(ticket_id=other.id, kind="note").count() == 1
    bad = client.post(
        f"/m/tickets/{mine.number}/note",
        data={"note": "x", "client_key": "'; drop"},
        headers={"X-Requested-With": "fetch"},
    )
    assert bad.status_code == 422 and "发送标识" in bad.get_json()["message"]


def test_a_plain_form_note_without_script_still_works(login, mine):
    response = login("Technician").post(
        f"/m/tickets/{mine.number}/note", data={"note": "无脚本"}, follow_redirects=True
    )
    assert "已添加备注" in response.get_data(as_text=True)
    assert db.session.query(TicketEvent).filter_by(ticket_id=mine.id, note="无脚本").count() == 1


def test_inspections_are_listed_and_recorded_by_the_maintenance_rule(app, ctx, user_id, login):
    plan(start_date=datetime.date(2026, 11, 23), lead_days=0)
    maintenance.generate_work_orders(db.session, datetime.date(2026, 11, 23), ZONE)
    occurrence = db.session.query(MaintenanceOccurrence).one()
    ticket = occurrence.ticket
    client = login("Technician")
    assert "电梯月度保养" not in client.get("/m/inspections").get_data(as_text=True)  # not his yet
    assert client.post(f"/m/inspections/{occurrence.id}", data={"result": "normal"}).status_code == 404
    db.session.expire_all()
    assert occurrence.result is None
    ticket.assignee_id, ticket.status = user_id("Technician"), "assigned"
    db.session.commit()
    page = client.get("/m/inspections").get_data(as_text=True)
    assert "电梯月度保养" in page and "我的巡检" in page
    bad = client.post(f"/m/inspections/{occurrence.id}", data={"result": "excellent"}, follow_redirects=True)
    assert "请选择检查结果" in bad.get_data(as_text=True)
    client.post(f"/m/inspections/{occurrence.id}", data={"result": "normal", "readings": "电流 11A"})
    db.session.expire_all()
    assert (occurrence.result, occurrence.readings) == ("normal", "电流 11A")
    assert "电梯月度保养" not in client.get("/m/inspections").get_data(as_text=True)
    card = client.get(f"/m/tickets/{ticket.number}").get_data(as_text=True)
    assert "检查结果：正常" in card and "读数：电流 11A" in card
    assert client.post("/m/inspections/999999", data={"result": "normal"}).status_code == 404


def test_the_pending_pool_only_for_who_may_dispatch(login, two_departments):
    mine, pool, colleague, other = two_departments
    technician = login("Technician")
    assert technician.get("/m/pool").status_code == 403
    assert "open-pool" not in technician.get("/m/").get_data(as_text=True)
    supervisor = login("Supervisor")
    assert 'id="open-pool"' in supervisor.get("/m/").get_data(as_text=True)
    page = supervisor.get("/m/pool").get_data(as_text=True)
    assert "本部门待派" in page and "我的工单" not in page
    assert "外部门工单" not in page  # row scope: the supervisor sees their department's pool


def test_dispatch_from_the_pool_records_the_assignment_and_tells_the_handler(login, two_departments, user_id):
    mine, pool, colleague, other = two_departments
    technician = login("Technician")
    assert (
        technician.post(f"/m/pool/{pool.number}/dispatch", data={"assignee": user_id("Technician")}).status_code == 403
    )
    assert reload(pool).assignee_id is None
    supervisor = login("Supervisor")
    refused = supervisor.post(f"/m/pool/{pool.number}/dispatch", data={"assignee": ""}, follow_redirects=True)
    assert "请选择" in refused.get_data(as_text=True) and reload(pool).assignee_id is None
    assert supervisor.post(f"/m/pool/{pool.number}/dispatch", data={"assignee": "999999"}).status_code == 302
    assert reload(pool).assignee_id is None
    told = db.session.query(Notification).filter_by(user_id=user_id("Technician")).count()
    supervisor.post(f"/m/pool/{pool.number}/dispatch", data={"assignee": user_id("Technician")})
    ticket = reload(pool)
    assert (ticket.status, ticket.assignee_id) == ("assigned", user_id("Technician"))
    event = db.session.query(TicketEvent).filter_by(ticket_id=pool.id, kind="assigned").one()
    assert event.actor_id == user_id("Supervisor")
    assert db.session.query(Notification).filter_by(user_id=user_id("Technician")).count() == told + 1
    assert "本部门待派" in technician.get("/m/").get_data(as_text=True)
    assert (
        supervisor.post(f"/m/pool/{other.number}/dispatch", data={"assignee": user_id("Technician")}).status_code == 404
    )


def test_no_page_needs_a_script_of_another_host_or_inline(login, mine):
    page = login("Technician").get(f"/m/tickets/{mine.number}").get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>", page)
    assert scripts and all('src="/static/' in attrs for attrs in scripts)


def test_my_to_do_costs_the_same_queries_for_three_tickets_or_thirty(login, ctx, user_id, count_queries, now):
    me = user_id("Technician")

    def tickets(n):
        for i in range(n):
            unit = factories.unit()
            customer = factories.customer(units=[unit])
            factories.ticket(
                customer=customer,
                unit=unit,
                assignee_id=me,
                status="assigned",
                deadline=now + datetime.timedelta(hours=i),
            )

    client = login("Technician")
    tickets(3)
    with count_queries() as few:
        assert client.get("/m/").status_code == 200
    tickets(27)
    with count_queries() as many:
        page = client.get("/m/").get_data(as_text=True)
    assert page.count('class="portal-card mobile-ticket"') == 30
    assert many.count == few.count
