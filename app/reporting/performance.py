"""Staff performance: tickets handled, median response and resolution time, on-time rate, rating."""

import statistics
from collections import defaultdict

from flask_appbuilder.security.sqla.models import User
from sqlalchemy import select

from app.models import Department, Ticket, TicketRating
from app.core.people import person_name


def _minutes(later, earlier):
    return (later - earlier).total_seconds() / 60 if later and earlier else None


def _summary(rows, ratings=True):
    response = [m for m in (_minutes(r.responded_at, r.created_at) for r in rows) if m is not None]
    resolution = [m for m in (_minutes(r.resolved_at, r.created_at) for r in rows) if m is not None]
    with_due = [r for r in rows if r.resolution_due is not None]
    stars = [r.stars for r in rows if r.stars is not None] if ratings else []
    return {
        "handled": len(rows),
        "median_response_minutes": round(statistics.median(response)) if response else None,
        "median_resolution_minutes": round(statistics.median(resolution)) if resolution else None,
        "on_time_rate": (sum(r.resolved_at <= r.resolution_due for r in with_due) / len(with_due))
        if with_due
        else None,
        "average_rating": round(statistics.mean(stars), 2) if stars else None,
        "ratings": len(stars),
    }


def staff_performance(session, start, end, ratings=True):
    """Per person and per department, for tickets resolved in [start, end). Without ``ratings`` (the
    reader may not see ratings' stars) no rating figure is given.

    Returns (people, departments): lists of dicts with a name and the figures of _summary.
    """
    rows = session.execute(
        select(
            Ticket.assignee_id,
            Ticket.department_id,
            Ticket.created_at,
            Ticket.responded_at,
            Ticket.resolved_at,
            Ticket.resolution_due,
            TicketRating.stars,
        )
        .outerjoin(TicketRating, TicketRating.ticket_id == Ticket.id)
        .where(Ticket.resolved_at >= start, Ticket.resolved_at < end)
    ).all()
    by_person, by_department = defaultdict(list), defaultdict(list)
    for row in rows:
        by_person[row.assignee_id].append(row)
        by_department[row.department_id].append(row)
    users = {u.id: u for u in session.execute(select(User).where(User.id.in_([k for k in by_person if k]))).scalars()}
    departments = {
        d.id: d.name
        for d in session.execute(select(Department).where(Department.id.in_([k for k in by_department if k]))).scalars()
    }
    people = [dict(name=_person(users.get(key)), **_summary(value, ratings)) for key, value in by_person.items()]
    teams = [dict(name=departments.get(key, "—"), **_summary(value, ratings)) for key, value in by_department.items()]
    people.sort(key=lambda p: (-p["handled"], p["name"]))
    teams.sort(key=lambda t: (-t["handled"], t["name"]))
    return people, teams


def _person(user):
    if user is None:
        return "—"

    return person_name(user)
