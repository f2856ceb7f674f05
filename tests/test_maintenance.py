"""Planned maintenance: recurrences, exactly one work order per occurrence however often the job runs,
dispatch like any ticket, escalation when overdue, inspection results on the ticket."""

import datetime
import zoneinfo

import pytest

from app.facilities import maintenance
from app.core.errors import DomainError
from app.extensions import db
from app.models import (
    DispatchRule,
    Equipment,
    MaintenanceOccurrence,
    MaintenancePlan,
    StaffProfile,
    Ticket,
    TicketEvent,
)
from app.tickets.sla import escalate_overdue
from app.core.column_types import UTC
from tests import factories

ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")


def plan(**kw):
    building = factories.building()
    equipment = Equipment(
        code=f"DT-{next(factories._seq)}", name="1号客梯", kind="lift", building=building, location="1单元电梯厅"
    )
    values = dict(
        title="电梯月度保养",
        equipment=equipment,
        every=1,
        unit="months",
        start_date=datetime.date(2026, 1, 31),
        lead_days=3,
        checklist="检查曳引机、门机，记录运行电流",
    )
    values.update(kw)
    obj = MaintenancePlan(**values)
    db.session.add(obj)
    db.session.commit()
    return obj


def test_recurrences_every_n_days_weeks_months_and_cron(ctx):
    p = MaintenancePlan(start_date=datetime.date(2026, 1, 31), every=1, unit="months")
    jan_to_apr = maintenance.occurrences(p, datetime.date(2026, 1, 1), datetime.date(2026, 4, 30), ZONE)
    assert jan_to_apr == [
        datetime.date(2026, 1, 31),
        datetime.date(2026, 2, 28),
        datetime.date(2026, 3, 31),
        datetime.date(2026, 4, 30),
    ]
    p.unit, p.every = "weeks", 2
    assert maintenance.occurrences(p, datetime.date(2026, 2, 1), datetime.date(2026, 3, 1), ZONE) == [
        datetime.date(2026, 2, 14),
        datetime.date(2026, 2, 28),
    ]
    p.unit, p.every = "days", 10
    assert maintenance.occurrences(p, datetime.date(2026, 1, 1), datetime.date(2026, 2, 20), ZONE) == [
        datetime.date(2026, 1, 31),
        datetime.date(2026, 2, 10),
        datetime.date(2026, 2, 20),
    ]
    p.end_date = datetime.date(2026, 2, 15)
    assert maintenance.occurrences(p, datetime.date(2026, 1, 1), datetime.date(2026, 2, 20), ZONE)[-1] == datetime.date(
        2026, 2, 10
    )
    # cron: 09:00 on the 1st and 15th of each month, and on Mondays ("mon" in the weekday field)
    p = MaintenancePlan(start_date=datetime.date(2026, 1, 1), every=1, unit="months", cron="0 9 1,15 * *")
    assert maintenance.occurrences(p, datetime.date(2026, 2, 1), datetime.date(2026, 3, 10), ZONE) == [
        datetime.date(2026, 2, 1),
        datetime.date(2026, 2, 15),
        datetime.date(2026, 3, 1),
    ]
    p.cron = "30 8 * * mon"
    assert maintenance.occurrences(p, datetime.date(2026, 11, 23), datetime.date(2026, 12, 7), ZONE) == [
        datetime.date(2026, 11, 23),
        datetime.date(2026, 11, 30),
        datetime.date(2026, 12, 7),
    ]


def test_bad_rules_are_refused_with_a_clear_message(ctx):
    with pytest.raises(DomainError, match="Cron 规则无效"):
        maintenance.check_plan(MaintenancePlan(start_date=datetime.date(2026, 1, 1), cron="every tuesday"))
    with pytest.raises(DomainError, match="至少"):
        maintenance.check_plan(MaintenancePlan(start_date=datetime.date(2026, 1, 1), every=0, unit="days"))
    with pytest.raises(DomainError, match="结束日期"):
        maintenance.check_plan(
            MaintenancePlan(
                start_date=datetime.date(2026, 1, 1), every=1, unit="days", end_date=datetime.date(2025, 1, 1)
            )
        )


def test_one_work_order_per_occurrence_even_when_the_job_runs_twice(app, ctx):
    p = plan(unit="weeks", every=1, start_date=datetime.date(2026, 11, 2), lead_days=10)
    today = datetime.date(2026, 11, 23)
    assert maintenance.generate_work_orders(db.session, today, ZONE) == 2  # 23 Nov and 30 Nov
    assert maintenance.generate_work_orders(db.session, today, ZONE) == 0
    # the next day's run sees 7 Dec come within the lead time, and only that
    assert maintenance.generate_work_orders(db.session, today + datetime.timedelta(days=4), ZONE) == 1
    assert maintenance.generate_work_orders(db.session, today + datetime.timedelta(days=4), ZONE) == 0
    occurrences = db.session.query(MaintenanceOccurrence).order_by(MaintenanceOccurrence.due_date).all()
    assert [o.due_date for o in occurrences] == [
        datetime.date(2026, 11, 23),
        datetime.date(2026, 11, 30),
        datetime.date(2026, 12, 7),
    ]
    tickets = db.session.query(Ticket).order_by(Ticket.id).all()
    assert len(tickets) == 3 and {t.type for t in tickets} == {"maintenance"}
    assert [o.ticket_id for o in occurrences] == [t.id for t in tickets]
    first = tickets[0]
    assert first.title == "电梯月度保养（2026-11-23）" and "记录运行电流" in first.description
    # due at the end of the day, local time
    assert first.resolution_due == datetime.datetime(2026, 11, 23, 23, 59, tzinfo=ZONE).astimezone(UTC)
    assert p.occurrences and all(o.plan_id == p.id for o in occurrences)


def test_inactive_plans_raise_nothing(app, ctx):
    plan(active=False, start_date=datetime.date(2026, 11, 23))
    assert maintenance.generate_work_orders(db.session, datetime.date(2026, 11, 23), ZONE) == 0


def test_work_orders_are_dispatched_by_the_rules_and_escalate_when_overdue(app, ctx, user_id):
    department = factories.department(name="工程部")
    db.session.add(DispatchRule(ticket_type="maintenance", department=department))
    db.session.add(
        StaffProfile(user_id=user_id("Technician"), department=department, on_duty=True, max_open_tickets=10)
    )
    db.session.commit()
    plan(unit="days", every=30, start_date=datetime.date(2026, 11, 23), lead_days=0)
    maintenance.generate_work_orders(db.session, datetime.date(2026, 11, 23), ZONE)
    ticket = db.session.query(Ticket).one()
    assert (ticket.department_id, ticket.assignee_id, ticket.status) == (
        department.id,
        user_id("Technician"),
        "assigned",
    )
    after = datetime.datetime(2026, 11, 24, 1, 0, tzinfo=ZONE)
    assert escalate_overdue(db.session, after.astimezone(UTC))["level1"] == 1
    db.session.expire_all()
    assert ticket.escalation_level == 1


def test_the_inspection_is_recorded_on_the_ticket(app, ctx, user_id, login):
    plan(start_date=datetime.date(2026, 11, 23), lead_days=0)
    maintenance.generate_work_orders(db.session, datetime.date(2026, 11, 23), ZONE)
    occurrence = db.session.query(MaintenanceOccurrence).one()
    occurrence.ticket.assignee_id = user_id("Technician")  # a technician works the tickets assigned to them
    occurrence.ticket.status = "assigned"
    db.session.commit()
    client = login("Technician")
    bad = client.post(
        f"/maintenanceoccurrenceview/edit/{occurrence.id}", data={"result": "", "readings": "x"}, follow_redirects=True
    )
    assert "请选择检查结果" in bad.get_data(as_text=True) or "必填" in bad.get_data(as_text=True)
    client.post(
        f"/maintenanceoccurrenceview/edit/{occurrence.id}",
        data={"result": "attention", "readings": "运行电流 12.5A；制动间隙 0.6mm"},
    )
    db.session.expire_all()
    assert (occurrence.result, occurrence.readings) == ("attention", "运行电流 12.5A；制动间隙 0.6mm")
    notes = [e.note for e in db.session.query(TicketEvent).filter_by(ticket_id=occurrence.ticket_id, kind="note")]
    assert notes == ["检查结果：需关注\n读数：运行电流 12.5A；制动间隙 0.6mm"]


def test_plan_pages(app, ctx, login):
    p = plan()
    client = login("Supervisor")
    page = client.get("/maintenanceplanview/list/").get_data(as_text=True)
    assert "电梯月度保养" in page
    form = {
        "title": "水泵季度保养",
        "equipment": str(p.equipment_id),
        "every": "1",
        "unit": "months",
        "cron": "not a rule",
        "start_date": "2026-12-01",
        "lead_days": "3",
        "priority": "medium",
    }
    refused = client.post("/maintenanceplanview/add", data=form, follow_redirects=True)
    assert "Cron 规则无效" in refused.get_data(as_text=True)
    assert db.session.query(MaintenancePlan).count() == 1
    client.post("/maintenanceplanview/add", data=dict(form, cron=""))
    assert db.session.query(MaintenancePlan).count() == 2
    assert "1号客梯" in client.get("/equipmentview/list/").get_data(as_text=True)


def test_a_technician_sees_only_the_maintenance_records_of_their_tickets(app, ctx, user_id, login):
    plan(unit="days", every=1, start_date=datetime.date(2026, 11, 23), lead_days=1)
    maintenance.generate_work_orders(db.session, datetime.date(2026, 11, 23), ZONE)
    mine, other = db.session.query(MaintenanceOccurrence).order_by(MaintenanceOccurrence.due_date).all()
    mine.ticket.assignee_id, mine.ticket.status = user_id("Technician"), "assigned"
    other.ticket.assignee_id, other.ticket.status = user_id("Service"), "assigned"
    db.session.commit()
    client = login("Technician")
    listing = client.get("/maintenanceoccurrenceview/list/").get_data(as_text=True)
    assert mine.ticket.number in listing and other.ticket.number not in listing
    assert client.get(f"/maintenanceoccurrenceview/edit/{other.id}").status_code == 404


def test_the_inspection_is_recorded_from_the_work_order_page(app, ctx, user_id, login):
    plan(start_date=datetime.date(2026, 11, 23), lead_days=0)
    maintenance.generate_work_orders(db.session, datetime.date(2026, 11, 23), ZONE)
    occurrence = db.session.query(MaintenanceOccurrence).one()
    ticket = occurrence.ticket
    ticket.assignee_id, ticket.status = user_id("Technician"), "assigned"
    db.session.commit()
    client = login("Technician")
    page = client.get(f"/ticketwork/{ticket.number}").get_data(as_text=True)
    assert "电梯月度保养" in page and "ticket-record-inspection" in page
    bad = client.post(f"/ticketwork/{ticket.number}/inspection", data={"result": "excellent"}, follow_redirects=True)
    assert "请选择检查结果" in bad.get_data(as_text=True)
    client.post(f"/ticketwork/{ticket.number}/inspection", data={"result": "normal", "readings": "电流 11A"})
    db.session.expire_all()
    assert (occurrence.result, occurrence.readings) == ("normal", "电流 11A")
    timeline = client.get(f"/ticketwork/{ticket.number}").get_data(as_text=True)
    assert "检查结果：正常" in timeline and "读数：电流 11A" in timeline
    other = factories.ticket(title="普通报修")
    assert client.post(f"/ticketwork/{other.number}/inspection", data={"result": "normal"}).status_code == 404


def test_a_technician_records_inspections_only_on_their_own_work_orders(app, ctx, user_id):
    plan(start_date=datetime.date(2026, 11, 23), lead_days=0)
    maintenance.generate_work_orders(db.session, datetime.date(2026, 11, 23), ZONE)
    occurrence = db.session.query(MaintenanceOccurrence).one()
    now = datetime.datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    with pytest.raises(DomainError, match="分配给您"):
        maintenance.record_inspection(db.session, occurrence, "normal", "", user_id("Technician"), now)
    maintenance.record_inspection(db.session, occurrence, "fault", "漏水", user_id("Service"), now)
    db.session.expire_all()
    assert (occurrence.result, occurrence.readings) == ("fault", "漏水")


def test_no_inspection_is_written_on_a_finished_work_order(app, ctx, user_id):
    """Like a note: once the work order is closed or cancelled its timeline takes nothing more."""
    from app.core.errors import DomainError

    plan(start_date=datetime.date(2026, 11, 23), lead_days=0)
    maintenance.generate_work_orders(db.session, datetime.date(2026, 11, 23), ZONE)
    occurrence = db.session.query(MaintenanceOccurrence).one()
    occurrence.ticket.status = "cancelled"
    db.session.commit()
    with pytest.raises(DomainError):
        maintenance.record_inspection(
            db.session,
            occurrence,
            "normal",
            "电流 11A",
            user_id("Supervisor"),
            datetime.datetime(2026, 11, 23, 8, tzinfo=datetime.timezone.utc),
        )
    db.session.rollback()
    assert db.session.query(TicketEvent).filter_by(ticket_id=occurrence.ticket_id, kind="note").count() == 0
