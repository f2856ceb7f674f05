"""Return visits: sampled per ticket type, created after the delay once, and an unhappy customer reopens or
escalates the request."""

import datetime

import pytest
from sqlalchemy import update

from app.tickets import return_visits
from app.core.errors import DomainError
from app.extensions import db
from app.models import Notification, ReturnVisit, ReturnVisitRule, Ticket, TicketEvent
from app.core.column_types import UTC
from tests import factories

NOW = datetime.datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def rule(ticket_type="complaint", every_nth=1, delay_hours=24):
    obj = ReturnVisitRule(
        ticket_type=ticket_type,
        every_nth=every_nth,
        delay_hours=delay_hours,
        script="您好，这里是物业服务中心，想了解一下您对上次处理结果是否满意？",
        active=True,
    )
    db.session.add(obj)
    db.session.commit()
    return obj


def finished(type="complaint", status="resolved", resolved_at=NOW - datetime.timedelta(hours=30), **kw):
    ticket = factories.ticket(type=type, customer=kw.pop("customer", None) or factories.customer(), **kw)
    db.session.execute(
        update(Ticket).where(Ticket.id == ticket.id).values(status=status, resolution="已处理", resolved_at=resolved_at)
    )
    db.session.commit()
    db.session.expire_all()
    return db.session.get(Ticket, ticket.id)


def test_sampling_is_random_looking_but_reproducible():
    numbers = [f"WO20261123{n:04d}" for n in range(1, 2001)]
    picked = [n for n in numbers if return_visits.in_sample(n, 5)]
    assert 300 < len(picked) < 500  # about one in five
    assert picked == [n for n in numbers if return_visits.in_sample(n, 5)]  # the same every time
    assert picked[:5] != numbers[:5] and all(return_visits.in_sample(n, 1) for n in numbers)


def test_every_complaint_gets_a_visit_after_the_delay_once(app, ctx):
    rule("complaint", 1, 24)
    due = finished()
    early = finished(resolved_at=NOW - datetime.timedelta(hours=2))
    finished(type="inquiry")  # no rule for inquiries
    open_ticket = factories.ticket(type="complaint")
    assert return_visits.create_visits(db.session, NOW) == 1
    assert return_visits.create_visits(db.session, NOW) == 0  # the job runs twice: nothing twice
    visit = db.session.query(ReturnVisit).one()
    assert (visit.ticket_id, visit.customer_id, visit.status) == (due.id, due.customer_id, "pending")
    assert visit.due_at == due.resolved_at + datetime.timedelta(hours=24)
    assert "满意" in visit.script
    # later, the second one comes due too; the open one never does
    assert return_visits.create_visits(db.session, NOW + datetime.timedelta(hours=23)) == 1
    assert {v.ticket_id for v in db.session.query(ReturnVisit)} == {due.id, early.id}
    assert open_ticket.id not in {v.ticket_id for v in db.session.query(ReturnVisit)}


def test_one_repair_in_five_is_visited_and_the_same_ones_each_time(app, ctx):
    rule("repair", 5, 0)
    tickets = [finished(type="repair", status="closed") for _ in range(40)]
    created = return_visits.create_visits(db.session, NOW)
    visited = {v.ticket_id for v in db.session.query(ReturnVisit)}
    expected = {t.id for t in tickets if return_visits.in_sample(t.number, 5)}
    assert visited == expected and created == len(expected)
    assert 0 < created < 40
    assert return_visits.create_visits(db.session, NOW) == 0


def test_an_inactive_rule_creates_nothing(app, ctx):
    r = rule()
    r.active = False
    db.session.commit()
    finished()
    assert return_visits.create_visits(db.session, NOW) == 0


def make_visit(**kw):
    if db.session.query(ReturnVisitRule).count() == 0:
        rule()
    ticket = finished(**kw)
    return_visits.create_visits(db.session, NOW)
    return db.session.query(ReturnVisit).filter_by(ticket_id=ticket.id).one(), ticket


def test_an_unsatisfied_customer_reopens_a_resolved_ticket(app, ctx, user_id):
    visit, ticket = make_visit()
    outcome = return_visits.record_result(db.session, visit, "reached", False, "噪音仍然存在", user_id("Service"), NOW)
    assert outcome == "reopened"
    db.session.expire_all()
    assert ticket.status == "reopened"
    assert (visit.status, visit.visited_by_id, visit.visited_at) == ("done", user_id("Service"), NOW)
    notes = [e.note for e in db.session.query(TicketEvent).filter_by(ticket_id=ticket.id)]
    assert any("客户不满意" in (n or "") and "噪音仍然存在" in n for n in notes)
    assert db.session.query(Notification).filter_by(user_id=user_id("Supervisor")).count() == 1


def test_an_unsatisfied_customer_escalates_a_closed_ticket(app, ctx, user_id):
    visit, ticket = make_visit(status="closed")
    assert return_visits.record_result(db.session, visit, "reached", False, "", user_id("Service"), NOW) == "escalated"
    db.session.expire_all()
    assert (ticket.status, ticket.escalation_level, ticket.escalated_at) == ("closed", 1, NOW)
    assert db.session.query(TicketEvent).filter_by(ticket_id=ticket.id, kind="escalated").count() == 1


def test_satisfied_or_not_reached_leaves_the_ticket_alone(app, ctx, user_id):
    visit, ticket = make_visit()
    assert return_visits.record_result(db.session, visit, "reached", True, "", user_id("Service"), NOW) is None
    other, second = make_visit()
    assert return_visits.record_result(db.session, other, "not_reached", False, "", user_id("Service"), NOW) is None
    db.session.expire_all()
    assert (ticket.status, second.status, other.satisfied) == ("resolved", "resolved", None)


def test_a_visit_is_recorded_once_and_needs_its_answers(app, ctx, user_id):
    visit, ticket = make_visit()
    with pytest.raises(DomainError, match="是否满意"):
        return_visits.record_result(db.session, visit, "reached", None, "", user_id("Service"), NOW)
    with pytest.raises(DomainError, match="联系上"):
        return_visits.record_result(db.session, visit, "", None, "", user_id("Service"), NOW)
    db.session.expire_all()
    assert visit.status == "pending"
    return_visits.record_result(db.session, visit, "reached", False, "", user_id("Service"), NOW)
    with pytest.raises(DomainError, match="已登记"):
        return_visits.record_result(db.session, visit, "reached", True, "", user_id("Service"), NOW)
    db.session.expire_all()
    assert ticket.status == "reopened" and visit.satisfied is False


def test_the_service_desk_records_a_visit_on_the_page(app, ctx, login):
    visit, ticket = make_visit()
    client = login("Service")
    listing = client.get("/returnvisitview/list/").get_data(as_text=True)
    assert ticket.number in listing and "待回访" in listing
    bad = client.post(
        f"/returnvisitview/edit/{visit.id}", data={"result": "reached", "notes": "x"}, follow_redirects=True
    )
    assert "请选择客户是否满意" in bad.get_data(as_text=True)
    db.session.expire_all()
    assert visit.status == "pending" and ticket.status == "resolved"
    form = client.get(f"/returnvisitview/edit/{visit.id}").get_data(as_text=True)
    assert "不满意" in form
    client.post(f"/returnvisitview/edit/{visit.id}", data={"result": "reached", "satisfied": "0", "notes": "仍漏水"})
    db.session.expire_all()
    assert (visit.status, visit.satisfied, ticket.status) == ("done", False, "reopened")
    again = client.post(
        f"/returnvisitview/edit/{visit.id}", data={"result": "reached", "satisfied": "1"}, follow_redirects=True
    )
    assert "该回访结果已登记" in again.get_data(as_text=True)
    db.session.expire_all()
    assert visit.satisfied is False


def test_a_ticket_already_escalated_goes_to_the_managers(app, ctx, user_id):
    """Escalation follows the sweep's levels: a second level tells the managers, not the supervisors."""
    visit, ticket = make_visit(status="closed")
    db.session.execute(update(Ticket).where(Ticket.id == ticket.id).values(escalation_level=1, priority="medium"))
    db.session.commit()
    db.session.expire_all()
    assert return_visits.record_result(db.session, visit, "reached", False, "", user_id("Service"), NOW) == "escalated"
    db.session.expire_all()
    assert (ticket.escalation_level, ticket.priority) == (2, "medium")  # the priority rises at level 1 only
    assert db.session.query(Notification).filter_by(user_id=user_id("Manager")).count() == 1
    assert db.session.query(Notification).filter_by(user_id=user_id("Supervisor")).count() == 0
