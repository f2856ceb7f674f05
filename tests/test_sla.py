"""SLA due times and the escalation sweep: correct maths, once per level, even when sweeps race."""
import datetime
import threading

from app.extensions import db
from app.models import SlaPolicy, Ticket, TicketEvent
from app.sla import escalate_overdue
from app.types import utcnow
from tests import factories

NOW = datetime.datetime(2026, 11, 23, 8, 0, tzinfo=datetime.timezone.utc)
H = datetime.timedelta(hours=1)


def test_due_times_come_from_the_policy_or_the_defaults(ctx):
    db.session.add(SlaPolicy(ticket_type="complaint", priority="low", response_minutes=30, resolution_minutes=90))
    db.session.commit()
    repair = factories.ticket(type="repair", priority="high", created_at=NOW)
    complaint = factories.ticket(type="complaint", priority="low", created_at=NOW)
    assert (repair.response_due, repair.resolution_due, repair.deadline) == (NOW + H, NOW + 24 * H, NOW + 24 * H)
    assert (complaint.response_due, complaint.resolution_due) == (NOW + 30 * datetime.timedelta(minutes=1),
                                                                  NOW + 90 * datetime.timedelta(minutes=1))


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
