"""The ticket lifecycle: every legal and illegal move, through pages and API alike."""

import pytest
from sqlalchemy import update

from app.core.errors import DomainError
from app.extensions import db
from app.models import Ticket, TicketEvent
from app.tickets.lifecycle import TRANSITIONS
from tests import factories

STATUSES = list(TRANSITIONS)


def ticket_in(status, **kw):
    ticket = factories.ticket(**kw)
    db.session.execute(update(Ticket).where(Ticket.id == ticket.id).values(status=status))
    db.session.commit()
    db.session.expire_all()
    return db.session.get(Ticket, ticket.id)


@pytest.mark.parametrize("old", STATUSES)
@pytest.mark.parametrize("new", STATUSES)
def test_transition_table(ctx, old, new):
    if old == new and old != "assigned":
        return
    ticket = ticket_in(old, resolution="已修复")
    ticket.status = new
    if new in TRANSITIONS[old]:
        db.session.commit()
        assert db.session.get(Ticket, ticket.id).status == new
    else:
        with pytest.raises(DomainError):
            db.session.commit()
        db.session.rollback()
        assert db.session.get(Ticket, ticket.id).status == old


def test_closing_a_new_ticket_is_refused_on_the_page_with_a_message(admin_client, ctx):
    ticket = factories.ticket(title="新工单")
    page = admin_client.post(
        f"/ticketview/edit/{ticket.id}",
        data={"title": "新工单", "type": "repair", "priority": "medium", "status": "closed", "channel": "phone"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "不能从" in page and "已关闭" in page
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status == "new"


def test_illegal_move_through_the_api_is_422_and_changes_nothing(admin_client, ctx):
    ticket = factories.ticket()
    response = admin_client.put(f"/api/v1/ticket/{ticket.id}", json={"status": "closed"})
    assert response.status_code == 422 and "status" in response.json["message"]
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status == "new"
    assert [e.kind for e in db.session.get(Ticket, ticket.id).events] == ["created"]


def test_resolving_needs_a_result_note_and_stamps_times(admin_client, ctx):
    ticket = ticket_in("in_progress")
    assert admin_client.put(f"/api/v1/ticket/{ticket.id}", json={"status": "resolved"}).status_code == 422
    response = admin_client.put(f"/api/v1/ticket/{ticket.id}", json={"status": "resolved", "resolution": "更换水管"})
    assert response.status_code == 200, response.json
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.status == "resolved" and ticket.resolved_at is not None


def test_starting_work_records_the_first_response(admin_client, ctx, user_id):
    ticket = factories.ticket(assignee_id=user_id("Technician"))
    admin_client.put(f"/api/v1/ticket/{ticket.id}", json={"status": "in_progress"})
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).responded_at is not None


def test_a_technician_cannot_change_someone_elses_ticket(login, ctx, user_id):
    from app.models import StaffProfile

    department = factories.department()
    db.session.add(StaffProfile(user_id=user_id("Technician"), department_id=department.id, max_open_tickets=0))
    db.session.commit()
    mine = factories.ticket(assignee_id=user_id("Technician"))
    theirs = factories.ticket(assignee_id=user_id("Supervisor"))
    pool = factories.ticket(department=department)  # their department's pool: visible, not theirs to change
    client = login("Technician")
    assert client.put(f"/api/v1/ticket/{mine.id}", json={"status": "in_progress"}).status_code == 200
    assert client.put(f"/api/v1/ticket/{pool.id}", json={"status": "in_progress"}).status_code == 403
    page = client.post(
        f"/ticketview/edit/{pool.id}",
        data={"title": pool.title, "type": "repair", "priority": "medium", "status": "in_progress", "channel": "phone"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "只能修改分配给您的工单" in page
    # someone else's ticket is out of their scope altogether
    assert client.put(f"/api/v1/ticket/{theirs.id}", json={"status": "in_progress"}).status_code == 404
    assert client.post(f"/ticketview/edit/{theirs.id}", data={"title": "x"}).status_code in (302, 404)
    db.session.expire_all()
    assert db.session.get(Ticket, theirs.id).status == "assigned" and db.session.get(Ticket, pool.id).status == "new"


def test_a_technician_cannot_hand_a_ticket_to_someone_else(login, ctx, user_id):
    mine = factories.ticket(assignee_id=user_id("Technician"))
    response = login("Technician").put(f"/api/v1/ticket/{mine.id}", json={"assignee": user_id("Supervisor")})
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Ticket, mine.id).assignee_id == user_id("Technician")


def test_every_move_is_in_the_history(admin_client, ctx, user_id):
    ticket = factories.ticket()
    for body in (
        {"status": "assigned", "assignee": user_id("Technician")},
        {"status": "in_progress"},
        {"status": "resolved", "resolution": "已处理"},
        {"status": "closed"},
    ):
        assert admin_client.put(f"/api/v1/ticket/{ticket.id}", json=body).status_code == 200
    events = db.session.query(TicketEvent).filter_by(ticket_id=ticket.id).order_by(TicketEvent.id).all()
    assert [(e.kind, e.to_status) for e in events if e.kind == "status"] == [
        ("status", "assigned"),
        ("status", "in_progress"),
        ("status", "resolved"),
        ("status", "closed"),
    ]


# ---- a ticket is born by the transition table, on every create path


@pytest.mark.parametrize("status", ["closed", "resolved", "in_progress", "cancelled", "reopened"])
def test_the_api_cannot_create_a_ticket_in_a_later_status(admin_client, ctx, status):
    customer = factories.customer()
    response = admin_client.post(
        "/api/v1/ticket/",
        json={"title": "直接关闭", "type": "repair", "status": status, "customer": customer.id, "resolution": "已处理"},
    )
    assert response.status_code in (400, 422), response.json
    assert "新建" in str(response.json["message"]["status"])
    assert db.session.query(Ticket).count() == 0 and db.session.query(TicketEvent).count() == 0


def test_the_api_creates_a_new_ticket_and_a_chosen_handler_makes_it_assigned(admin_client, ctx, user_id):
    plain = admin_client.post("/api/v1/ticket/", json={"title": "楼道灯不亮", "type": "repair", "status": "new"})
    assert plain.status_code == 201, plain.json
    handled = admin_client.post(
        "/api/v1/ticket/", json={"title": "水管漏水", "type": "repair", "assignee": user_id("Technician")}
    )
    assert handled.status_code == 201, handled.json
    ticket = db.session.get(Ticket, handled.json["id"])
    assert (ticket.status, ticket.assignee_id) == ("assigned", user_id("Technician"))
    # the chosen handler is recorded by the one assignment rule, as dispatch records its choice
    assert [(e.kind, e.to_status) for e in ticket.events] == [("created", "assigned"), ("assigned", None)]
    assert db.session.get(Ticket, plain.json["id"]).status == "new"


def test_no_create_path_can_skip_the_lifecycle(ctx, user_id):
    for status in ("closed", "resolved", "cancelled"):
        db.session.add(Ticket(title="导入的旧工单", type="repair", status=status, resolution="已处理"))
        with pytest.raises(DomainError, match="新建|new"):
            db.session.commit()
        db.session.rollback()
    # "assigned" needs a handler: the dispatch rule or a chosen person
    db.session.add(Ticket(title="无人处理", type="repair", status="assigned"))
    with pytest.raises(DomainError):
        db.session.commit()
    db.session.rollback()
    assert db.session.query(Ticket).count() == 0 and db.session.query(TicketEvent).count() == 0


def test_the_add_form_starts_every_ticket_new(admin_client, ctx):
    response = admin_client.post(
        "/ticketview/add",
        data={"title": "电梯异响", "type": "repair", "priority": "high", "channel": "phone", "status": "closed"},
    )
    assert response.status_code == 302
    ticket = db.session.query(Ticket).one()
    assert ticket.status == "new" and ticket.closed_at is None


# ---- closed and cancelled are final, on every path


@pytest.mark.parametrize("final", ["closed", "cancelled"])
def test_a_finished_ticket_cannot_be_changed_through_the_api(admin_client, ctx, final):
    ticket = ticket_in(final, priority="low")
    for body in ({"priority": "high"}, {"title": "改标题"}, {"department": factories.department().id}):
        response = admin_client.put(f"/api/v1/ticket/{ticket.id}", json=body)
        assert response.status_code == 422, response.json
        assert "不能再修改" in str(response.json["message"])
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert (ticket.priority, ticket.title, ticket.department_id) == ("low", "厨房水管漏水", None)
    assert [e.kind for e in ticket.events] == ["created"]


@pytest.mark.parametrize("final", ["closed", "cancelled"])
def test_a_finished_ticket_cannot_be_changed_on_the_page_or_through_the_orm(admin_client, ctx, final):
    ticket = ticket_in(final, priority="low")
    page = admin_client.post(
        f"/ticketview/edit/{ticket.id}",
        data={"title": ticket.title, "type": "repair", "priority": "high", "status": final, "channel": "phone"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "不能再修改" in page
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.priority == "low"
    ticket.priority = "high"
    with pytest.raises(DomainError, match=ticket.number):
        db.session.commit()
    db.session.rollback()
    assert db.session.get(Ticket, ticket.id).priority == "low"


def test_a_finished_ticket_saved_unchanged_on_the_page_is_no_error(admin_client, ctx):
    import html
    import re

    ticket = ticket_in("closed", priority="low")
    form = admin_client.get(f"/ticketview/edit/{ticket.id}").get_data(as_text=True)
    data = {
        name: html.unescape(value) for name, value in re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', form)
    }
    data.update({"type": "repair", "priority": "low", "status": "closed", "channel": "phone"})
    page = admin_client.post(f"/ticketview/edit/{ticket.id}", data=data, follow_redirects=True).get_data(as_text=True)
    assert "不能再修改" not in page
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status == "closed"


def test_only_an_escalation_still_touches_a_closed_ticket(ctx, now):
    ticket = ticket_in("closed", priority="low")
    ticket.escalation_level, ticket.priority = 1, "high"  # not the one-step raise of an escalation
    with pytest.raises(DomainError):
        db.session.commit()
    db.session.rollback()
    # as a return visit does (app.tickets.return_visits): the level one up, the priority one step up
    ticket.escalation_level = (ticket.escalation_level or 0) + 1
    ticket.priority, ticket.escalated_at = {"low": "medium"}[ticket.priority], now
    db.session.commit()
    db.session.expire_all()
    assert (db.session.get(Ticket, ticket.id).priority, db.session.get(Ticket, ticket.id).status) == (
        "medium",
        "closed",
    )
