"""The ticket work page: timeline with files, one-click start / note / resolve, reassignment with a reason."""

import datetime
import io
import os

import pytest

from app.extensions import db
from app.models import Notification, OutboxMessage, StaffProfile, Ticket, TicketEvent
from app.tickets.sla import remaining_text
from tests import factories

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


@pytest.fixture
def mine(ctx, user_id):
    """A technician's ticket in the department the supervisor (and the service desk) belong to."""
    department = factories.department(name="工程部")
    db.session.add_all(
        [
            StaffProfile(user_id=user_id(role), department_id=department.id, max_open_tickets=0)
            for role in ("Technician", "Supervisor", "Service")
        ]
    )
    db.session.commit()
    customer = factories.customer(name="吴芳")
    return factories.ticket(
        title="阳台漏水", customer=customer, assignee_id=user_id("Technician"), status="assigned", department=department
    )


def reload(ticket):
    db.session.expire_all()
    return db.session.get(Ticket, ticket.id)


def test_the_handler_starts_notes_and_resolves_from_the_work_page(app, login, mine):
    client = login("Technician")
    page = client.get(f"/ticketwork/{mine.number}").get_data(as_text=True)
    assert "阳台漏水" in page and 'id="ticket-start"' in page and 'id="ticket-reassign"' not in page
    client.post(f"/ticketwork/{mine.number}/start")
    assert reload(mine).status == "in_progress"

    client.post(
        f"/ticketwork/{mine.number}/note",
        content_type="multipart/form-data",
        data={"note": "已关闭总阀，等待配件", "file": (io.BytesIO(PNG), "现场.png")},
    )
    event = db.session.query(TicketEvent).filter_by(ticket_id=mine.id, kind="note").one()
    assert event.note == "已关闭总阀，等待配件" and event.attachment.endswith("_sep_现场.png")
    assert client.get(f"/ticketeventview/download/{event.attachment}").data == PNG

    refused = client.post(f"/ticketwork/{mine.number}/resolve", data={"resolution": " "}, follow_redirects=True)
    assert reload(mine).status == "in_progress" and "结果" in refused.get_data(as_text=True)
    client.post(f"/ticketwork/{mine.number}/resolve", data={"resolution": "更换防水层"})
    ticket = reload(mine)
    assert (ticket.status, ticket.resolution) == ("resolved", "更换防水层")
    assert db.session.query(OutboxMessage).filter_by(customer_id=ticket.customer_id).count() == 1
    timeline = client.get(f"/ticketwork/{mine.number}").get_data(as_text=True)
    assert "已关闭总阀" in timeline and "现场.png" in timeline
    # the handler reads that the customer got the rating link, and by which channel; the link is theirs
    assert "评价链接已通过短信发送给客户" in timeline and "/rate/" not in timeline


def test_a_refused_file_adds_no_note_and_leaves_no_file(app, login, mine):
    folder = app.config["UPLOAD_FOLDER"]
    before = set(os.listdir(folder)) if os.path.isdir(folder) else set()
    response = login("Technician").post(
        f"/ticketwork/{mine.number}/note",
        content_type="multipart/form-data",
        data={"note": "见附件", "file": (io.BytesIO(b"MZ\x90\x00" * 10), "a.jpg")},
        follow_redirects=True,
    )
    assert "JPG" in response.get_data(as_text=True)
    assert db.session.query(TicketEvent).filter_by(kind="note").count() == 0
    assert (set(os.listdir(folder)) if os.path.isdir(folder) else set()) == before


def test_a_technician_cannot_work_someone_elses_ticket(app, login, ctx, user_id):
    theirs = factories.ticket(assignee_id=user_id("Supervisor"), status="assigned")
    client = login("Technician")
    client.post(f"/ticketwork/{theirs.number}/start")
    client.post(f"/ticketwork/{theirs.number}/note", data={"note": "我来看看"})
    client.post(f"/ticketwork/{theirs.number}/reassign", data={"assignee": user_id("Technician"), "reason": "x"})
    ticket = reload(theirs)
    assert (ticket.status, ticket.assignee_id) == ("assigned", user_id("Supervisor"))
    assert db.session.query(TicketEvent).filter_by(ticket_id=theirs.id, kind="note").count() == 0


def test_reassignment_needs_a_reason_which_is_logged_and_the_new_assignee_told(app, login, mine, user_id):
    client = login("Supervisor")
    assert 'id="ticket-reassign"' in client.get(f"/ticketwork/{mine.number}").get_data(as_text=True)
    refused = client.post(
        f"/ticketwork/{mine.number}/reassign",
        data={"assignee": user_id("Service"), "reason": ""},
        follow_redirects=True,
    )
    assert "原因" in refused.get_data(as_text=True) and reload(mine).assignee_id == user_id("Technician")
    client.post(f"/ticketwork/{mine.number}/reassign", data={"assignee": user_id("Service"), "reason": "技术员休假"})
    assert reload(mine).assignee_id == user_id("Service")
    event = (
        db.session.query(TicketEvent)
        .filter_by(ticket_id=mine.id, kind="assigned")
        .order_by(TicketEvent.id.desc())
        .first()
    )
    assert "技术员休假" in event.note and event.actor_id == user_id("Supervisor")
    assert db.session.query(Notification).filter_by(user_id=user_id("Service")).count() == 1


def test_the_edit_form_and_the_api_also_ask_for_the_reason(app, login, mine, user_id):
    client = login("Supervisor")
    data = {
        "title": mine.title,
        "type": "repair",
        "priority": "medium",
        "status": "assigned",
        "channel": "phone",
        "assignee": str(user_id("Service")),
        "department": str(mine.department_id),
    }
    client.post(f"/ticketview/edit/{mine.id}", data=data)
    assert reload(mine).assignee_id == user_id("Technician")
    client.post(f"/ticketview/edit/{mine.id}", data=dict(data, reassign_reason="客服跟进"))
    assert reload(mine).assignee_id == user_id("Service")
    response = client.put(f"/api/v1/ticket/{mine.id}", json={"assignee": user_id("Technician")})
    assert response.status_code == 422 and reload(mine).assignee_id == user_id("Service")


def test_taking_a_ticket_from_the_pool_needs_no_reason(app, login, mine, user_id):
    pooled = factories.ticket(title="楼道灯不亮", department=mine.department)
    assert pooled.assignee_id is None
    login("Supervisor").post(f"/ticketwork/{pooled.number}/reassign", data={"assignee": user_id("Technician")})
    ticket = reload(pooled)
    assert (ticket.assignee_id, ticket.status) == (user_id("Technician"), "assigned")


def test_list_numbers_open_the_work_page(app, login, mine):
    page = login("Technician").get("/mytodoview/list/").get_data(as_text=True)
    assert f'href="/ticketwork/{mine.number}"' in page


def test_remaining_time_reads_naturally(ctx):
    now = datetime.datetime(2026, 11, 23, 8, 0, tzinfo=datetime.timezone.utc)
    assert remaining_text(now + datetime.timedelta(hours=2, minutes=15), now) == "剩余 2 小时 15 分钟"
    assert remaining_text(now - datetime.timedelta(minutes=40), now) == "已超时 40 分钟"
    assert remaining_text(now + datetime.timedelta(days=1, hours=3), now) == "剩余 1 天 3 小时"
