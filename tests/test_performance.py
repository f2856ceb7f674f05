"""Staff performance: handled, median times, on-time rate and rating per person and department."""

import datetime

from sqlalchemy import update

from app.extensions import db
from app.models import Ticket, TicketRating
from app.reporting.performance import staff_performance
from tests import factories

T0 = datetime.datetime(2026, 11, 10, 1, 0, tzinfo=datetime.timezone.utc)
M = datetime.timedelta(minutes=1)


def handled(assignee_id, department, respond, resolve, due, stars=None):
    ticket = factories.ticket(department=department)
    db.session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id)
        .values(
            status="resolved",
            resolution="ok",
            assignee_id=assignee_id,
            created_at=T0,
            responded_at=T0 + respond * M,
            resolved_at=T0 + resolve * M,
            resolution_due=T0 + due * M,
        )
    )
    if stars:
        db.session.add(TicketRating(ticket_id=ticket.id, stars=stars, source="phone"))
    db.session.commit()


def test_figures_per_person_and_department(ctx, user_id):
    dept = factories.department(name="工程部")
    tech, sup = user_id("Technician"), user_id("Supervisor")
    handled(tech, dept, 10, 100, 120, stars=5)
    handled(tech, dept, 30, 200, 120, stars=3)
    handled(tech, dept, 20, 60, 120)
    handled(sup, dept, 5, 50, 120, stars=4)
    people, departments = staff_performance(db.session, T0 - 60 * M, T0 + 24 * 60 * M)
    tech_row = next(p for p in people if p["handled"] == 3)
    assert (tech_row["median_response_minutes"], tech_row["median_resolution_minutes"]) == (20, 100)
    assert round(tech_row["on_time_rate"], 3) == round(2 / 3, 3) and tech_row["average_rating"] == 4.0
    assert departments == [
        dict(
            name="工程部",
            handled=4,
            median_response_minutes=15,
            median_resolution_minutes=80,
            on_time_rate=0.75,
            average_rating=4.0,
            ratings=3,
        )
    ]


def test_the_period_is_respected(ctx, user_id):
    dept = factories.department()
    handled(user_id("Technician"), dept, 10, 100, 120)
    people, _ = staff_performance(db.session, T0 + 24 * 60 * M, T0 + 48 * 60 * M)
    assert people == []


def test_performance_page_for_managers_and_supervisors(login, ctx, user_id):
    handled(user_id("Technician"), factories.department(name="客服部"), 10, 100, 120, stars=5)
    page = login("Manager").get("/performance/?start=2026-11-01&end=2026-11-30").get_data(as_text=True)
    assert "客服部" in page and "100%" in page
    assert login("Supervisor").get("/performance/").status_code == 200
    assert login("Technician").get("/performance/").status_code == 403
