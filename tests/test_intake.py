"""Intake in one step: the desk logs a request with its photos and its handler on one form, reads the
new number at once, sees the customer's units and open tickets while typing, and follows up the tickets
they logged; call recordings go on communication records."""

import io
import os
from urllib.parse import quote

import pytest

from app.extensions import db
from app.models import Communication, FieldPermission, Notification, StaffProfile, Ticket, TicketAttachment, TicketEvent
from tests import factories

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
JPG = b"\xff\xd8\xff\xe0" + b"\x00" * 200
EXE = b"MZ\x90\x00" + b"\x00" * 200
# the first bytes of real recordings of each kind
MP3_ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 200
MP3_FRAME = b"\xff\xfb\x90\x64" + b"\x00" * 200
M4A = b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00" + b"\x00" * 200
AMR = b"#!AMR\n" + b"\x00" * 200
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 200


def files_in(app):
    folder = app.config["UPLOAD_FOLDER"]
    return set(os.listdir(folder)) if os.path.isdir(folder) else set()


def form(**extra):
    data = {
        "title": "卫生间漏水",
        "type": "repair",
        "priority": "high",
        "channel": "phone",
        "description": "楼下天花板渗水",
    }
    data.update(extra)
    return data


def post_ticket(client, data, files=()):
    payload = dict(data)
    if files:
        payload["photos"] = [(io.BytesIO(content), name) for content, name in files]
    return client.post("/ticketview/add", data=payload, content_type="multipart/form-data")


def test_photos_on_the_new_ticket_form_are_saved_with_the_ticket(app, ctx, login):
    before = files_in(app)
    response = post_ticket(login("Service"), form(), [(PNG, "漏水照片.png"), (JPG, "天花板.jpg")])
    assert response.status_code == 302
    ticket = db.session.query(Ticket).one()
    names = sorted(a.file.split("_sep_")[1] for a in ticket.attachments)
    assert names == ["天花板.jpg", "漏水照片.png"]
    assert files_in(app) - before == {a.file for a in ticket.attachments}
    notes = [e.note for e in db.session.query(TicketEvent).filter_by(ticket_id=ticket.id, kind="note")]
    assert sorted(notes) == ["添加附件: 天花板.jpg", "添加附件: 漏水照片.png"]


def test_a_bad_photo_saves_nothing_and_says_why(app, ctx, login):
    before = files_in(app)
    response = post_ticket(login("Service"), form(), [(PNG, "好照片.png"), (EXE, "照片.jpg")])
    assert response.status_code == 200  # the form again
    page = response.get_data(as_text=True)
    assert "照片.jpg: 不支持此文件类型" in page
    assert db.session.query(Ticket).count() == 0 and db.session.query(TicketAttachment).count() == 0
    assert files_in(app) == before


def test_a_refused_ticket_leaves_no_stored_photo(app, ctx, login, monkeypatch):
    """The files are written before the ticket is saved: a ticket the rules refuse takes them away again."""
    from app.core.errors import DomainError
    from app.views import TicketView

    def refuse(self, item):
        raise DomainError("拒绝")

    monkeypatch.setattr(TicketView, "post_add", refuse)
    before = files_in(app)
    post_ticket(login("Service"), form(), [(PNG, "现场.png")])
    assert files_in(app) == before


def test_a_photo_over_the_size_limit_is_refused(app, ctx, login):
    app.config["CRM_MAX_ATTACHMENT_MB"] = 0.0001
    try:
        response = post_ticket(login("Service"), form(), [(PNG, "大照片.png")])
    finally:
        app.config["CRM_MAX_ATTACHMENT_MB"] = 50
    assert response.status_code == 200 and "MB" in response.get_data(as_text=True)
    assert db.session.query(Ticket).count() == 0


def test_a_chosen_handler_makes_the_ticket_assigned_by_the_one_assignment_rule(app, ctx, login, user_id, now):
    department = factories.department(name="工程部")
    tech = user_id("Technician")
    db.session.add(StaffProfile(user_id=tech, department_id=department.id, max_open_tickets=5))
    db.session.commit()
    response = post_ticket(login("Service"), form(department=str(department.id), assignee=str(tech)))
    assert response.status_code == 302
    ticket = db.session.query(Ticket).one()
    assert (ticket.status, ticket.assignee_id, ticket.department_id) == ("assigned", tech, department.id)
    events = db.session.query(TicketEvent).filter_by(ticket_id=ticket.id).order_by(TicketEvent.id).all()
    assert [(e.kind, e.to_status) for e in events] == [("created", "assigned"), ("assigned", None)]
    assert events[1].actor_id == user_id("Service") and events[1].note  # who gave it, and to whom
    notices = db.session.query(Notification).filter_by(user_id=tech).all()
    assert [n.link for n in notices] == [f"/ticketwork/{ticket.number}"]
    profile = db.session.query(StaffProfile).filter_by(user_id=tech).one()
    assert profile.last_assigned_at is not None  # the workload tie-break, as dispatch stamps it


def test_a_chosen_handler_counts_in_dispatchs_workload(app, ctx, login, user_id):
    """A handler given a ticket by hand is as busy as one given it by dispatch: at their maximum,
    dispatch passes them over."""
    from app.models import DispatchRule

    department = factories.department(name="维修部")
    tech = user_id("Technician")
    db.session.add(StaffProfile(user_id=tech, department_id=department.id, max_open_tickets=1))
    db.session.add(DispatchRule(ticket_type="repair", department_id=department.id))
    db.session.commit()
    client = login("Service")
    post_ticket(client, form(title="手工派给师傅", department=str(department.id), assignee=str(tech)))
    post_ticket(client, form(title="自动派单"))
    auto = db.session.query(Ticket).filter_by(title="自动派单").one()
    assert (auto.status, auto.assignee_id) == ("new", None)


def test_the_flash_names_the_new_number_and_links_the_ticket(app, ctx, login):
    client = login("Service")
    response = post_ticket(client, form())
    ticket = db.session.query(Ticket).one()
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"工单 {ticket.number} 已登记" in page
    assert f'href="/ticketwork/{ticket.number}"' in page
    assert "记录已添加" not in page


def test_tickets_i_logged_lists_only_my_own(app, ctx, login, user_id):
    client = login("Service")
    post_ticket(client, form(title="我登记的报修"))
    post_ticket(login("Supervisor"), form(title="主管登记的报修"))
    factories.ticket(title="系统导入的工单")
    page = client.get("/loggedbymeview/list/").get_data(as_text=True)
    assert "我登记的报修" in page
    assert "主管登记的报修" not in page and "系统导入的工单" not in page
    assert "我登记的工单" in client.get("/ticketview/list/").get_data(as_text=True)  # in the menu


def test_tickets_i_logged_follow_the_row_scope(app, ctx, login, user_id, two_departments):
    """A ticket I logged that has since gone to a department my scope does not reach is not listed."""
    _mine, _pool, _colleague, other = two_departments
    db.session.execute(Ticket.__table__.update().values(created_by_id=user_id("Technician")))
    db.session.commit()
    page = login("Technician").get("/loggedbymeview/list/").get_data(as_text=True)
    assert "我的工单" in page and "外部门工单" not in page


def test_the_intake_json_lists_the_customers_units_and_open_tickets(app, ctx, login, today):
    import datetime

    here, moved_out = factories.unit(number="0302"), factories.unit(number="0909")
    customer = factories.customer(units=[here])
    from app.models import CustomerUnit

    db.session.add(
        CustomerUnit(customer=customer, unit=moved_out, relation="tenant", move_out=today - datetime.timedelta(days=30))
    )
    db.session.commit()
    open_ = factories.ticket(customer=customer, title="门锁坏了")
    factories.ticket(customer=customer, title="早已关闭", status="closed")
    factories.ticket(customer=factories.customer(), title="别人的工单")
    data = login("Service").get(f"/ticketview/intake?customer={customer.id}").get_json()
    assert [u["id"] for u in data["units"]] == [here.id] and "0302" in data["units"][0]["text"]
    assert [(t["number"], t["title"], t["status"]) for t in data["tickets"]] == [(open_.number, "门锁坏了", "新建")]
    assert data["tickets"][0]["url"] == f"/ticketwork/{open_.number}"


def test_the_intake_json_follows_row_scope_and_field_levels(app, ctx, login, user_id, two_departments):
    mine, pool, colleague, other = two_departments
    customer = factories.customer()
    db.session.execute(Ticket.__table__.update().values(customer_id=customer.id))
    role = app.appbuilder.sm.find_role("Supervisor")
    db.session.add(FieldPermission(role_id=role.id, resource="Ticket", field="title", level="hidden"))
    db.session.add(FieldPermission(role_id=role.id, resource="Ticket", field="number", level="masked"))
    db.session.commit()
    data = login("Supervisor").get(f"/ticketview/intake?customer={customer.id}").get_json()
    shown = {t["number"] for t in data["tickets"]}
    assert len(data["tickets"]) == 3  # the department's three; the other department's is out of scope
    assert other.number not in shown and mine.number not in shown  # masked
    assert all(t["title"] == "" and t["url"] == "" for t in data["tickets"])
    body = login("Supervisor").get(f"/ticketview/intake?customer={customer.id}").get_data(as_text=True)
    assert "外部门工单" not in body and "我的工单" not in body


def test_the_intake_json_costs_the_same_for_a_customer_with_many_units(app, ctx, login, count_queries):
    counts = []
    client = login("Service")
    for size in (1, 8):
        customer = factories.customer(units=[factories.unit() for _ in range(size)])
        for i in range(size):
            factories.ticket(customer=customer, title=f"报修{i}")
        client.get(f"/ticketview/intake?customer={customer.id}")  # warm caches
        with count_queries() as counter:
            data = client.get(f"/ticketview/intake?customer={customer.id}").get_json()
        assert len(data["units"]) == size and len(data["tickets"]) == size
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def test_the_intake_json_needs_the_right_to_create_tickets(app, ctx, login):
    customer = factories.customer()
    assert login("Technician").get(f"/ticketview/intake?customer={customer.id}").status_code in (302, 403)


def test_the_new_ticket_form_offers_photos_and_loads_its_script(app, ctx, login):
    page = login("Service").get("/ticketview/add").get_data(as_text=True)
    assert 'name="photos"' in page and "multiple" in page and "照片和附件" in page
    assert "/static/js/ticket_intake.js" in page and "/ticketview/intake" in page


# ---- call recordings on communication records


def post_communication(client, customer, content, name):
    return client.post(
        "/communicationview/add",
        content_type="multipart/form-data",
        data={
            "customer": str(customer.id),
            "at": "2026-11-20 10:00",
            "channel": "phone",
            "summary": "来电报修录音",
            "attachment": (io.BytesIO(content), name),
        },
    )


@pytest.mark.parametrize(
    "content,name,kind",
    [
        (MP3_ID3, "来电录音.mp3", "mp3"),
        (MP3_FRAME, "录音2.mp3", "mp3"),
        (M4A, "语音备忘.m4a", "m4a"),
        (AMR, "通话.amr", "amr"),
        (WAV, "录音.wav", "wav"),
        (b"\x00\x00\x00\x1cftypisom" + b"\x00" * 200, "安卓录音.m4a", "m4a"),
    ],
)
def test_a_call_recording_is_accepted_and_played_on_the_record(app, ctx, login, content, name, kind):
    customer = factories.customer()
    client = login("Service")
    assert post_communication(client, customer, content, name).status_code == 302
    record = db.session.query(Communication).one()
    assert record.attachment.endswith(f".{kind}")
    page = client.get(f"/communicationview/show/{record.id}").get_data(as_text=True)
    url = f"/communicationview/download/{quote(record.attachment)}"
    assert f'<audio controls preload="none" src="{url}">' in page
    download = client.get(url)
    assert download.status_code == 200 and download.data == content
    assert download.mimetype.startswith("audio/")


@pytest.mark.parametrize(
    "content,name",
    [
        (EXE, "录音.mp3"),
        (b"<script>x</script>" * 20, "录音.wav"),
        (b"RIFF\x24\x00\x00\x00AVI LIST" * 20, "录音.wav"),
        (b"#!AM" + b"\x00" * 200, "通话.amr"),
        (b"\xff\xff\xff\xff" * 50, "录音.mp3"),
    ],
)
def test_a_forged_recording_is_refused(app, ctx, login, content, name):
    before = files_in(app)
    customer = factories.customer()
    response = post_communication(login("Service"), customer, content, name)
    assert response.status_code == 200 and "MP3" in response.get_data(as_text=True)
    assert db.session.query(Communication).count() == 0 and files_in(app) == before


def test_recordings_are_not_ticket_files(app, ctx, login):
    """Audio is for call records; the ticket's files stay photos and documents."""
    response = post_ticket(login("Service"), form(), [(MP3_ID3, "录音.mp3")])
    assert response.status_code == 200 and db.session.query(Ticket).count() == 0
