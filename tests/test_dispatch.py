"""Automatic dispatch: rules to a department, least-loaded person on duty, ties, maximum load, pool."""

import datetime
import threading

import pytest

from app.extensions import db
from app.models import DispatchRule, DutyShift, StaffProfile, Ticket
from tests import factories

MONDAY_10 = datetime.datetime(2026, 11, 23, 2, 0, tzinfo=datetime.timezone.utc)  # 10:00 in Shanghai


@pytest.fixture
def staff(app, ctx):
    """Three engineers (technician accounts) in one department, one rule repair → that department."""
    sm = app.appbuilder.sm
    department = factories.department(name="工程部")
    users = [
        sm.find_user(username=name)
        or sm.add_user(name, name, "工程", f"{name}@example.com", sm.find_role("Technician"), "Test-password-2026")
        for name in ("eng1", "eng2", "eng3")
    ]
    profiles = [StaffProfile(user_id=user.id, department_id=department.id, max_open_tickets=2) for user in users]
    db.session.add_all(profiles)
    db.session.add(DispatchRule(ticket_type="repair", department=department))
    db.session.commit()
    return department, profiles


def new_ticket(**kw):
    return factories.ticket(type=kw.pop("type", "repair"), **kw)


def test_rule_picks_the_department_and_the_least_loaded_person(staff):
    department, (a, b, c) = staff
    first = new_ticket()
    assert first.department_id == department.id and first.status == "assigned"
    assert first.assignee_id == a.user_id  # all at 0: least recently assigned, then lowest id
    second, third = new_ticket(), new_ticket()
    assert [second.assignee_id, third.assignee_id] == [b.user_id, c.user_id]
    fourth = new_ticket()
    assert fourth.assignee_id == a.user_id  # all at 1 now: a was assigned longest ago
    kinds = [e.kind for e in fourth.events]
    assert kinds == ["created", "assigned"]


def test_nobody_over_their_maximum_and_then_the_pool(staff):
    department, profiles = staff
    tickets = [new_ticket() for _ in range(7)]
    assigned = [t for t in tickets if t.assignee_id]
    assert len(assigned) == 6  # 3 people × max 2
    pool = [t for t in tickets if not t.assignee_id]
    assert len(pool) == 1 and pool[0].status == "new" and pool[0].department_id == department.id


def test_people_on_leave_or_off_shift_are_skipped(staff):
    department, (a, b, c) = staff
    a.on_leave = True
    db.session.add(DutyShift(staff=b, weekday=0, start_minute=14 * 60, end_minute=22 * 60))  # Monday afternoon
    db.session.commit()
    ticket = factories.ticket(type="repair", created_at=MONDAY_10)
    from app.tickets.dispatch import choose_assignee, is_on_duty
    import zoneinfo

    zone = zoneinfo.ZoneInfo("Asia/Shanghai")
    assert not is_on_duty(a, MONDAY_10, zone) and not is_on_duty(b, MONDAY_10, zone)
    assert is_on_duty(b, MONDAY_10 + datetime.timedelta(hours=5), zone)
    assert choose_assignee(db.session, department.id, MONDAY_10, zone).id == c.id
    assert ticket.assignee_id in (c.user_id, b.user_id)


def test_the_most_specific_rule_wins(staff, ctx):
    department, _ = staff
    other = factories.department(name="商业运营部")
    building = factories.building(name="商业街A座")
    shop = factories.unit(building, number="S101", use="commercial")
    db.session.add(DispatchRule(ticket_type="repair", building=building, department=other))
    db.session.commit()
    assert new_ticket(unit=shop).department_id == other.id
    assert new_ticket(unit=factories.unit()).department_id == department.id


def test_no_rule_leaves_the_ticket_in_the_pool(staff):
    ticket = new_ticket(type="suggestion")
    assert (ticket.department_id, ticket.assignee_id, ticket.status) == (None, None, "new")


def test_concurrent_creation_does_not_overload_one_person(app, staff):
    department, profiles = staff
    for p in profiles[1:]:
        p.on_leave = True
    profiles[0].max_open_tickets = 1
    db.session.commit()
    barrier = threading.Barrier(2)
    errors = []

    def create():
        try:
            with app.app_context():
                barrier.wait()
                db.session.add(Ticket(title="同时报修", type="repair"))
                db.session.commit()
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    db.session.expire_all()
    assigned = db.session.query(Ticket).filter(Ticket.assignee_id == profiles[0].user_id).count()
    assert assigned == 1
    assert db.session.query(Ticket).filter(Ticket.status == "new").count() == 1


def test_staff_bound_to_buildings_only_take_tickets_there(staff):
    _department, (a, b, c) = staff
    east, west = factories.building(name="东区1栋"), factories.building(name="西区2栋")
    a.buildings = [east]
    b.buildings = [east]
    db.session.commit()
    in_west = new_ticket(unit=factories.unit(building_obj=west))
    assert in_west.assignee_id == c.user_id  # a and b do not cover the west building
    in_east = new_ticket(unit=factories.unit(building_obj=east))
    assert in_east.assignee_id == a.user_id  # a covers it (c, unbound, too, but has one open)
    no_unit = new_ticket()
    assert no_unit.assignee_id == b.user_id  # no building: everyone may take it
