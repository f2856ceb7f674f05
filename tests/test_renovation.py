"""Renovation: the state changes with the unit's status following, the tickets on it, reminders once a day."""

import datetime
from decimal import Decimal

import pytest

from app.care import renovation as rules
from app.core.errors import DomainError, NotAllowed
from app.extensions import db
from app.models import Notification, Renovation
from app.core.column_types import UTC
from tests import factories

NOW = datetime.datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
TODAY = datetime.date(2026, 11, 23)


def application(**kw):
    unit = kw.pop("unit", None) or factories.unit(status="occupied")
    customer = kw.pop("customer", None) or factories.customer(units=[unit])
    values = dict(
        contractor="美家装饰",
        deposit=Decimal("3000.00"),
        works_start=datetime.date(2026, 11, 1),
        works_end=datetime.date(2026, 12, 31),
    )
    values.update(kw)
    obj = Renovation(unit=unit, customer=customer, **values)
    db.session.add(obj)
    db.session.commit()
    return obj


def user(app, role):
    from tests.conftest import ROLE_USERS

    return app.appbuilder.sm.find_user(username=ROLE_USERS[role])


def to_inspection(app, r):
    rules.approve(db.session, r, user(app, "Supervisor"), NOW)
    rules.receive_deposit(db.session, r, NOW)
    rules.start_works(db.session, r, TODAY)
    rules.finish_works(db.session, r, TODAY)


def test_the_whole_lifecycle_with_the_unit_following(app, ctx):
    r = application()
    assert (r.status, r.unit.status) == ("applied", "occupied")
    with pytest.raises(NotAllowed):
        rules.approve(db.session, r, user(app, "Service"), NOW)
    with pytest.raises(DomainError):
        rules.start_works(db.session, r, TODAY)  # not before approval and deposit
    rules.approve(db.session, r, user(app, "Supervisor"), NOW)
    rules.receive_deposit(db.session, r, NOW)
    assert (r.status, r.deposit_received_at) == ("deposit_received", NOW)
    rules.start_works(db.session, r, TODAY)
    db.session.expire_all()
    assert (r.status, r.unit.status, r.started_on) == ("works", "renovating", TODAY)
    rules.finish_works(db.session, r, TODAY)
    assert (r.status, r.inspection_due) == ("inspection", TODAY + datetime.timedelta(days=3))
    with pytest.raises(DomainError, match="整改"):
        rules.inspect(db.session, r, False, "", NOW)
    rules.inspect(db.session, r, False, "卫生间防水未做闭水试验", NOW)
    assert (r.status, r.unit.status) == ("works", "renovating")
    rules.finish_works(db.session, r, TODAY)
    rules.inspect(db.session, r, True, "", NOW)
    assert r.status == "inspected"
    rules.refund(db.session, r, NOW)
    db.session.expire_all()
    assert (r.status, r.unit.status, r.settled_at) == ("refunded", "occupied", NOW)
    with pytest.raises(DomainError):
        rules.refund(db.session, r, NOW)


def test_withholding_needs_an_amount_within_the_deposit_and_a_reason(app, ctx):
    r = application()
    to_inspection(app, r)
    rules.inspect(db.session, r, True, "", NOW)
    for amount, reason, message in (
        ("0", "损坏公共墙面", "大于 0"),
        ("3000.01", "损坏公共墙面", "不超过押金"),
        ("abc", "x", "扣留金额"),
        ("500", " ", "原因"),
    ):
        with pytest.raises(DomainError, match=message):
            rules.withhold(db.session, r, amount, reason, NOW)
        db.session.rollback()
    db.session.expire_all()
    assert (r.status, r.withheld_amount) == ("inspected", None)
    rules.withhold(db.session, r, "500", "损坏公共墙面", NOW)
    db.session.expire_all()
    assert (r.status, r.withheld_amount, r.withheld_reason, r.unit.status) == (
        "withheld",
        Decimal("500.00"),
        "损坏公共墙面",
        "occupied",
    )


def test_a_rejected_application_leaves_the_unit_alone(app, ctx):
    r = application()
    rules.reject(db.session, r, user(app, "Admin"), NOW)
    assert (r.status, r.unit.status) == ("rejected", "occupied")


def test_only_open_applications_are_edited(app, ctx):
    r = application()
    rules.check_renovation(r)
    to_inspection(app, r)
    with pytest.raises(DomainError, match="不能修改"):
        rules.check_renovation(r)
    with pytest.raises(DomainError, match="结束日期"):
        rules.check_renovation(Renovation(works_start=TODAY, works_end=TODAY - datetime.timedelta(days=1)))


def test_noise_complaints_of_the_unit_show_on_the_renovation(app, ctx):
    r = application()
    other_unit = factories.unit()
    complaint = factories.ticket(title="楼上装修噪音", type="complaint", unit=r.unit)
    factories.ticket(title="别的房屋", unit=other_unit)
    assert [t.id for t in rules.related_tickets(db.session, r)] == [complaint.id]


def test_reminders_for_inspections_due_and_overrunning_works_once_a_day(app, ctx, user_id):
    late = application(works_end=datetime.date(2026, 11, 20), responsible_id=user_id("Service"))
    rules.approve(db.session, late, user(app, "Supervisor"), NOW)
    rules.receive_deposit(db.session, late, NOW)
    rules.start_works(db.session, late, datetime.date(2026, 11, 1))
    waiting = application()
    to_inspection(app, waiting)  # inspection due on 26 Nov
    on_time = application(works_end=datetime.date(2026, 12, 31))
    rules.approve(db.session, on_time, user(app, "Supervisor"), NOW)
    assert rules.send_reminders(db.session, TODAY, NOW) == {"inspection": 0, "overrun": 1}
    assert rules.send_reminders(db.session, TODAY, NOW) == {"inspection": 0, "overrun": 0}
    note = db.session.query(Notification).one()
    assert note.user_id == user_id("Service") and "超期 3 天" in note.body
    assert rules.send_reminders(db.session, datetime.date(2026, 11, 26), NOW) == {"inspection": 1, "overrun": 1}
    inspection_notes = db.session.query(Notification).filter(Notification.title.contains("验收"))
    # no responsible person: those who may approve renovations (the administrator and the supervisor)
    assert sorted(n.user_id for n in inspection_notes) == sorted([user_id("Admin"), user_id("Supervisor")])


def test_progress_page_steps(app, ctx, login):
    r = application()
    client = login("Service")
    page = client.get(f"/renovationview/progress/{r.id}").get_data(as_text=True)
    assert "已申请" in page and "renovation-approve" in page
    client.post(f"/renovationview/step/{r.id}", data={"step": "approve"})
    db.session.expire_all()
    assert r.status == "applied"  # the service desk cannot approve
    supervisor = login("Supervisor")
    for step in ("approve", "deposit", "start"):
        supervisor.post(f"/renovationview/step/{r.id}", data={"step": step})
    db.session.expire_all()
    assert (r.status, r.unit.status) == ("works", "renovating")
    assert supervisor.post(f"/renovationview/step/{r.id}", data={"step": "nonsense"}).status_code == 400
    assert "施工中" in supervisor.get("/renovationview/list/").get_data(as_text=True)
