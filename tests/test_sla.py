"""SLA due times and the escalation sweep: correct maths, once per level, even when sweeps race."""

import datetime
import threading

from app.extensions import db
from app.models import SlaPolicy, Ticket, TicketEvent
from app.tickets.sla import escalate_overdue
from app.core.column_types import utcnow
from tests import factories

NOW = datetime.datetime(2026, 11, 23, 8, 0, tzinfo=datetime.timezone.utc)
H = datetime.timedelta(hours=1)


def test_due_times_come_from_the_policy_or_the_defaults(ctx):
    policy = db.session.query(SlaPolicy).filter_by(ticket_type="complaint", priority="low").one()  # seeded
    policy.response_minutes, policy.resolution_minutes = 30, 90
    db.session.commit()
    repair = factories.ticket(type="repair", priority="high", created_at=NOW)
    complaint = factories.ticket(type="complaint", priority="low", created_at=NOW)
    assert (repair.response_due, repair.resolution_due, repair.deadline) == (NOW + H, NOW + 24 * H, NOW + 24 * H)
    assert (complaint.response_due, complaint.resolution_due) == (
        NOW + 30 * datetime.timedelta(minutes=1),
        NOW + 90 * datetime.timedelta(minutes=1),
    )


def test_a_given_deadline_is_kept(ctx):
    ticket = factories.ticket(created_at=NOW, deadline=NOW + 5 * H)
    assert ticket.deadline == NOW + 5 * H


def test_sweep_escalates_overdue_tickets_once_per_level(ctx):
    late = factories.ticket(type="repair", priority="medium", created_at=NOW - 5 * H)  # respond in 4 h: late
    fine = factories.ticket(type="repair", priority="medium", created_at=NOW - 1 * H)
    assert escalate_overdue(db.session, NOW) == {"level1": 1, "level2": 0}
    assert escalate_overdue(db.session, NOW) == {"level1": 0, "level2": 0}
    db.session.expire_all()
    late, fine = db.session.get(Ticket, late.id), db.session.get(Ticket, fine.id)
    assert (late.escalation_level, late.priority) == (1, "high")
    assert (fine.escalation_level, fine.priority) == (0, "medium")
    assert escalate_overdue(db.session, NOW + 3 * H) == {"level1": 0, "level2": 0}
    # 4 h after level 1 "late" reaches level 2; "fine" (respond by NOW + 3 h) is now late too
    assert escalate_overdue(db.session, NOW + 5 * H) == {"level1": 1, "level2": 1}
    assert escalate_overdue(db.session, NOW + 9 * H) == {"level1": 0, "level2": 0}
    assert escalate_overdue(db.session, NOW + 10 * H) == {"level1": 0, "level2": 1}
    kinds = [e.kind for e in db.session.query(TicketEvent).filter_by(ticket_id=late.id)]
    assert kinds.count("escalated") == 2


def test_resolved_or_started_tickets_are_not_escalated_for_the_met_due_time(ctx):
    started = factories.ticket(type="repair", priority="medium", created_at=NOW - 5 * H)
    started.responded_at = NOW - 4.5 * H
    db.session.commit()
    assert escalate_overdue(db.session, NOW) == {"level1": 0, "level2": 0}


def test_two_sweeps_racing_escalate_each_ticket_once(app, ctx):
    tickets = [factories.ticket(type="repair", priority="low", created_at=NOW - 30 * H) for _ in range(20)]
    results, errors = [], []
    barrier = threading.Barrier(2)

    def sweep():
        try:
            with app.app_context():
                barrier.wait()
                results.append(escalate_overdue(db.session, NOW))
        except Exception as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(r["level1"] for r in results) == 20
    db.session.expire_all()
    for ticket in tickets:
        events = db.session.query(TicketEvent).filter_by(ticket_id=ticket.id, kind="escalated").count()
        assert events == 1
        assert db.session.get(Ticket, ticket.id).escalation_level == 1


def test_sweep_command_runs_the_same_sweep(app, ctx):
    factories.ticket(type="inquiry", priority="high", created_at=utcnow() - 3 * H)
    result = app.test_cli_runner().invoke(args=["crm", "sweep"])
    assert result.exit_code == 0 and "level 1 1" in result.output


def test_the_built_in_service_levels_and_delays_are_rows_seeded_once(app, ctx, admin_client):
    """`crm init` creates the built-in levels and settings as rows (时效规则, 系统参数 list them); the
    code reads the rows; a later init neither undoes an admin's change nor brings back a deleted row."""
    from app.cli import setup_database
    from app.models import SystemSetting
    from app.admin.settings import ESCALATION_LEVEL_TWO, SLA_FALLBACK_RESOLUTION, SLA_FALLBACK_RESPONSE

    listed = admin_client.get("/slapolicyview/list/?psize_SlaPolicyView=100").get_data(as_text=True)
    assert db.session.query(SlaPolicy).count() == 15 and "1440" in listed  # the manual's 24 小时 rule
    settings = admin_client.get("/systemsettingview/list/").get_data(as_text=True)
    assert "系统参数" in settings and ESCALATION_LEVEL_TWO in settings and "通知经理" in settings
    repair_high = db.session.query(SlaPolicy).filter_by(ticket_type="repair", priority="high").one()
    repair_high.resolution_minutes = 600
    db.session.delete(db.session.query(SlaPolicy).filter_by(ticket_type="inquiry", priority="low").one())
    db.session.get(SystemSetting, SLA_FALLBACK_RESPONSE).value = 15
    db.session.get(SystemSetting, SLA_FALLBACK_RESOLUTION).value = 45
    db.session.commit()
    with app.app_context():
        setup_database()  # `crm init` again
    db.session.expire_all()
    assert db.session.query(SlaPolicy).count() == 14
    assert db.session.query(SlaPolicy).filter_by(ticket_type="repair", priority="high").one().resolution_minutes == 600
    assert db.session.get(SystemSetting, SLA_FALLBACK_RESPONSE).value == 15
    high = factories.ticket(type="repair", priority="high", created_at=NOW)
    uncovered = factories.ticket(type="inquiry", priority="low", created_at=NOW)
    assert high.resolution_due == NOW + 10 * H
    assert (uncovered.response_due, uncovered.resolution_due) == (
        NOW + 15 * datetime.timedelta(minutes=1),
        NOW + 45 * datetime.timedelta(minutes=1),
    )


def test_the_level_two_delay_is_read_from_its_setting(ctx):
    from app.models import SystemSetting
    from app.admin.settings import ESCALATION_LEVEL_TWO

    db.session.get(SystemSetting, ESCALATION_LEVEL_TWO).value = 30
    db.session.commit()
    late = factories.ticket(type="repair", priority="medium", created_at=NOW - 5 * H)
    assert escalate_overdue(db.session, NOW) == {"level1": 1, "level2": 0}
    assert escalate_overdue(db.session, NOW + 31 * datetime.timedelta(minutes=1)) == {"level1": 0, "level2": 1}
    db.session.expire_all()
    assert db.session.get(Ticket, late.id).escalation_level == 2


def test_a_setting_refuses_a_value_that_is_not_positive(ctx, admin_client):
    from app.models import SystemSetting
    from app.admin.settings import ESCALATION_LEVEL_TWO

    page = admin_client.post(
        f"/systemsettingview/edit/{ESCALATION_LEVEL_TWO}", data={"value": "0"}, follow_redirects=True
    )
    assert "请输入整数分钟数，至少为 1。" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(SystemSetting, ESCALATION_LEVEL_TWO).value == 240
