"""Billing: fee rules, idempotent generation, payments/reversals/write-offs, aging, reminders."""

import datetime
import threading
from decimal import Decimal
from types import SimpleNamespace

import pytest

from app.billing.bills import (
    arrears_by_building,
    arrears_by_customer,
    decide_write_off,
    fee_amount,
    generate_bills,
    reverse_payment,
    rule_for,
    send_payment_reminders,
)
from app.core.errors import DomainError
from app.extensions import db
from app.models import Bill, Communication, CustomerUnit, FeeRule, MeterReading, OutboxMessage, Payment, WriteOff
from app.core.clock import local_today
from app.core.column_types import utcnow
from app.core.validation import parse_tiers
from tests import factories

D = Decimal
JAN_1 = datetime.date(2026, 1, 1)


def rule(**kw):
    values = dict(
        name="规则",
        fee_type="property",
        method="per_area",
        price=D("2.50"),
        tiers=None,
        building_id=None,
        unit_use=None,
        bill_to="occupant",
        effective_from=JAN_1,
        effective_to=None,
        due_day=15,
        id=1,
    )
    values.update(kw)
    return SimpleNamespace(**values)


@pytest.mark.parametrize(
    "kw,area,usage,expected",
    [
        ({"method": "per_area", "price": D("2.50")}, D("89.50"), None, D("223.75")),
        ({"method": "per_area", "price": D("1.85")}, D("123.45"), None, D("228.38")),  # half up to the cent
        ({"method": "per_unit", "price": D("300")}, D("12"), None, D("300.00")),
        ({"method": "metered", "price": D("3.50")}, None, D("12.5"), D("43.75")),
        ({"method": "metered", "price": D("0"), "tiers": "20:3.50, 40:4.20, :5.00"}, None, D("45"), D("179.00")),
        ({"method": "metered", "price": D("0"), "tiers": "20:3.50, 40:4.20, :5.00"}, None, D("20"), D("70.00")),
        ({"method": "metered", "price": D("0"), "tiers": "20:3.50，:5.00"}, None, D("10"), D("35.00")),
    ],
)
def test_fee_per_rule_type(kw, area, usage, expected):
    assert fee_amount(rule(**kw), area, usage) == expected


def test_metered_fee_without_a_reading_is_an_error(ctx):
    with pytest.raises(DomainError):
        fee_amount(rule(method="metered"), None, None)


@pytest.mark.parametrize("text", ["", "abc", "20:3.5", "40:4, 20:3, :5", ":5, 20:3", "20:-1, :5", "0:1, :2"])
def test_bad_tiers_are_refused(text):
    with pytest.raises(ValueError):
        parse_tiers(text)


def test_a_buildings_own_rule_overrides_and_the_newest_in_effect_wins():
    general = rule(id=1, price=D("2.00"))
    newer = rule(id=2, price=D("2.20"), effective_from=datetime.date(2026, 6, 1))
    ended = rule(id=3, price=D("9.99"), building_id=7, effective_to=datetime.date(2026, 3, 31))
    own = rule(id=4, price=D("3.00"), building_id=8)
    rules = [general, newer, ended, own]
    assert rule_for(rules, 5, "residential", "property", datetime.date(2026, 5, 1)) is general
    assert rule_for(rules, 5, "residential", "property", datetime.date(2026, 7, 1)) is newer
    assert rule_for(rules, 7, "residential", "property", datetime.date(2026, 3, 1)) is ended
    assert rule_for(rules, 7, "residential", "property", datetime.date(2026, 4, 1)) is general
    assert rule_for(rules, 8, "residential", "property", datetime.date(2026, 7, 1)) is own
    assert rule_for(rules, 8, "residential", "water", datetime.date(2026, 7, 1)) is None


@pytest.fixture
def estate(ctx):
    """One building: an owner-occupied flat, a let flat (owner + tenant), an empty flat, a parking space."""
    building = factories.building(code="A1", name="阳光苑1栋")
    flat = factories.unit(building_obj=building, number="101", area=D("89.50"), use="residential")
    let = factories.unit(building_obj=building, number="102", area=D("120.00"), use="residential")
    empty = factories.unit(building_obj=building, number="103", area=D("60.00"), use="residential")
    parking = factories.unit(building_obj=building, number="P01", area=D("12.00"), use="parking")
    owner = factories.customer(name="业主甲", units=[flat, parking])
    landlord = factories.customer(name="房东乙", units=[let])
    tenant = factories.customer(name="租户丙")
    db.session.add(CustomerUnit(customer=tenant, unit=let, relation="tenant"))
    db.session.add_all(
        [
            FeeRule(
                name="住宅物业费",
                fee_type="property",
                method="per_area",
                price=D("2.50"),
                unit_use="residential",
                effective_from=JAN_1,
            ),
            FeeRule(
                name="车位管理费",
                fee_type="parking",
                method="per_unit",
                price=D("150"),
                unit_use="parking",
                effective_from=JAN_1,
                bill_to="owner",
            ),
            FeeRule(
                name="水费",
                fee_type="water",
                method="metered",
                price=D("3.50"),
                unit_use="residential",
                effective_from=JAN_1,
                due_day=20,
            ),
            MeterReading(unit=flat, fee_type="water", period="2026-11", previous_reading=D("100"), reading=D("112.5")),
            MeterReading(unit=let, fee_type="water", period="2026-11", previous_reading=D("40"), reading=D("48")),
        ]
    )
    db.session.commit()
    return SimpleNamespace(
        flat=flat, let=let, empty=empty, parking=parking, owner=owner, landlord=landlord, tenant=tenant
    )


def test_generation_bills_each_unit_as_its_rule_says_and_reports_what_it_could_not(estate):
    run = generate_bills(db.session, "2026-11", utcnow())
    bills = {(b.unit.number, b.fee_type): b for b in db.session.query(Bill)}
    assert {k: (v.customer.name, v.amount) for k, v in bills.items()} == {
        ("101", "property"): ("业主甲", D("223.75")),
        ("101", "water"): ("业主甲", D("43.75")),
        ("102", "property"): ("租户丙", D("300.00")),  # the tenant pays where there is one
        ("102", "water"): ("租户丙", D("28.00")),
        ("P01", "parking"): ("业主甲", D("150.00")),
    }
    assert bills[("101", "water")].due_date == datetime.date(2026, 11, 20)
    assert (run.status, run.created, run.existing, run.problem_count) == ("done", 5, 0, 2)
    assert "A1-103" in run.problems  # no customer (for property and for water)


def test_generating_again_creates_nothing(estate):
    generate_bills(db.session, "2026-11", utcnow())
    again = generate_bills(db.session, "2026-11", utcnow())
    assert (again.created, again.existing) == (0, 5)
    assert db.session.query(Bill).count() == 5


def test_two_runs_at_once_create_each_bill_once(app, estate):
    barrier = threading.Barrier(2)
    runs, errors = [], []

    def run():
        try:
            with app.app_context():
                barrier.wait()
                runs.append(generate_bills(db.session, "2026-11", utcnow()).created)
                db.session.remove()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(runs)[-1] + sorted(runs)[0] == 5
    assert db.session.query(Bill).count() == 5


# ---- payments, reversals, write-offs


@pytest.fixture
def bill(ctx):
    return factories.bill(amount=D("300.00"))


def test_a_reversal_takes_a_payment_back_once_with_a_reason(bill):
    payment = Payment(bill=bill, amount=D("100.00"), method="cash")
    db.session.add(payment)
    db.session.commit()
    assert (bill.status, bill.outstanding) == ("partial", D("200.00"))
    with pytest.raises(DomainError):
        reverse_payment(db.session, payment, "  ", utcnow())
    db.session.rollback()
    reversal = reverse_payment(db.session, payment, "收款金额录错", utcnow())
    assert reversal.receipt_number and reversal.kind == "reversal"
    db.session.refresh(bill)
    assert (bill.status, bill.paid_amount, bill.outstanding) == ("unpaid", D("0.00"), D("300.00"))
    with pytest.raises(DomainError):
        reverse_payment(db.session, db.session.get(Payment, payment.id), "再冲一次", utcnow())
    with pytest.raises(DomainError):
        reverse_payment(db.session, reversal, "冲正的冲正", utcnow())


def test_a_hand_made_reversal_must_match_its_payment(bill):
    payment = Payment(bill=bill, amount=D("100.00"), method="cash")
    db.session.add(payment)
    db.session.commit()
    db.session.add(Payment(bill=bill, amount=D("40.00"), kind="reversal", reverses=payment, reason="部分"))
    with pytest.raises(DomainError):
        db.session.commit()
    db.session.rollback()
    assert db.session.query(Payment).count() == 1


def test_write_offs_need_a_reason_and_another_persons_approval(bill, user_id):
    db.session.info["actor_id"] = user_id("Service")
    db.session.add(Payment(bill=bill, amount=D("250.00"), method="wechat"))
    db.session.commit()
    with pytest.raises(DomainError):
        db.session.add(WriteOff(bill=bill, amount=D("60.00"), reason="超过未缴"))
        db.session.commit()
    db.session.rollback()
    request = WriteOff(bill=bill, amount=D("50.00"), reason="业主去世，家属申请减免尾款", status="approved")
    db.session.add(request)
    db.session.commit()
    assert (request.status, request.requested_by_id) == ("pending", user_id("Service"))  # cannot self-approve
    db.session.refresh(bill)
    assert (bill.status, bill.outstanding) == ("partial", D("50.00"))
    with pytest.raises(DomainError):  # the service desk may not approve
        decide_write_off(db.session, request, True, utcnow())
    db.session.info["actor_id"] = user_id("Supervisor")
    decide_write_off(db.session, db.session.get(WriteOff, request.id), True, utcnow())
    db.session.refresh(bill)
    assert (bill.status, bill.written_off_amount, bill.outstanding) == ("written_off", D("50.00"), D("0.00"))
    with pytest.raises(DomainError):  # decided once
        decide_write_off(db.session, db.session.get(WriteOff, request.id), False, utcnow())
    db.session.info["actor_id"] = None


def test_a_supervisor_cannot_approve_their_own_write_off(bill, user_id):
    db.session.info["actor_id"] = user_id("Supervisor")
    request = WriteOff(bill=bill, amount=D("10.00"), reason="尾差")
    db.session.add(request)
    db.session.commit()
    with pytest.raises(DomainError):
        decide_write_off(db.session, request, True, utcnow())
    db.session.info["actor_id"] = None
    assert db.session.get(WriteOff, request.id).status == "pending"


# ---- arrears and reminders

# the test run's local date: pages that show these bills read the same clock
TODAY = local_today()


def overdue_bills():
    customer = factories.customer(name="欠费户")
    unit = factories.unit()
    for days, amount in ((10, "100"), (60, "200"), (120, "300"), (400, "400"), (-5, "999")):
        factories.bill(
            customer_obj=customer,
            unit_obj=unit,
            amount=D(amount),
            due_date=TODAY - datetime.timedelta(days=days),
            period=(TODAY - datetime.timedelta(days=days + 20)).strftime("%Y-%m"),
        )
    paid = factories.bill(
        customer_obj=customer,
        unit_obj=unit,
        amount=D("50"),
        period="2020-01",
        due_date=TODAY - datetime.timedelta(days=700),
    )
    db.session.add(Payment(bill=paid, amount=D("50"), method="cash"))
    db.session.commit()
    return customer, unit


def test_aging_buckets(ctx):
    customer, unit = overdue_bills()
    [row] = arrears_by_customer(db.session, TODAY)
    assert (row["name"], row["bills"], row["buckets"], row["total"]) == (
        "欠费户",
        4,
        [D("100.00"), D("200.00"), D("300.00"), D("400.00")],
        D("1000.00"),
    )
    [building] = arrears_by_building(db.session, TODAY, customers=True)
    assert (building["id"], building["customers"], building["total"]) == (unit.building_id, 1, D("1000.00"))


def test_bucket_edges(ctx):
    customer, unit = factories.customer(), factories.unit()
    for index, days in enumerate((30, 31, 90, 91, 180, 181)):
        factories.bill(
            customer_obj=customer,
            unit_obj=unit,
            amount=D("1"),
            period=f"2020-{index + 1:02d}",
            due_date=TODAY - datetime.timedelta(days=days),
        )
    [row] = arrears_by_customer(db.session, TODAY)
    assert row["buckets"] == [D("1.00"), D("2.00"), D("2.00"), D("1.00")]


def test_reminders_are_throttled_per_customer_and_logged_on_the_timeline(ctx):
    customer, _unit = overdue_bills()
    factories.customer(name="按时缴费户")
    now = datetime.datetime(2026, 11, 23, 2, 0, tzinfo=datetime.timezone.utc)
    assert send_payment_reminders(db.session, now, TODAY, interval_days=7) == 1
    message = db.session.query(OutboxMessage).one()
    assert (
        message.customer_id == customer.id and "1,000.00" in message.body and message.template_key == "payment_reminder"
    )
    log = db.session.query(Communication).filter_by(customer_id=customer.id).one()
    assert "1,000.00" in log.summary
    assert send_payment_reminders(db.session, now + datetime.timedelta(days=3), TODAY, interval_days=7) == 0
    assert send_payment_reminders(db.session, now + datetime.timedelta(days=7), TODAY, interval_days=7) == 1
    assert db.session.query(OutboxMessage).count() == 2


def test_the_arrears_summary_follows_every_change_to_bills(ctx, user_id):
    """The per-building, per-due-date summary (kept by triggers) equals the sum over the bills after
    bills are generated, paid, reversed, written off, edited, deleted and moved with their unit."""
    from sqlalchemy import func, select, update

    from app.models import ArrearsSummary, Bill, Unit

    def live():
        rows = db.session.execute(
            select(Unit.building_id, Bill.due_date, func.sum(Bill.amount - Bill.paid_amount - Bill.written_off_amount))
            .join(Unit, Unit.id == Bill.unit_id)
            .where(Bill.status.in_(("unpaid", "partial")))
            .group_by(Unit.building_id, Bill.due_date)
        ).all()
        return {(b, d): Decimal(v).quantize(Decimal("0.01")) for b, d, v in rows if v}

    def summary():
        db.session.expire_all()
        return {
            (r.building_id, r.due_date): Decimal(r.outstanding).quantize(Decimal("0.01"))
            for r in db.session.query(ArrearsSummary)
            if r.outstanding
        }

    a, b = factories.building(name="甲栋"), factories.building(name="乙栋")
    ua, ub = factories.unit(a, number="101"), factories.unit(b, number="201")
    first = factories.bill(unit_obj=ua, period="2026-09", amount=Decimal("300.00"), due_date=datetime.date(2026, 9, 15))
    second = factories.bill(
        unit_obj=ub, period="2026-09", amount=Decimal("120.50"), due_date=datetime.date(2026, 9, 15)
    )
    third = factories.bill(unit_obj=ua, period="2026-10", amount=Decimal("80.00"), due_date=datetime.date(2026, 10, 15))
    assert (
        summary()
        == live()
        == {
            (a.id, datetime.date(2026, 9, 15)): Decimal("300.00"),
            (b.id, datetime.date(2026, 9, 15)): Decimal("120.50"),
            (a.id, datetime.date(2026, 10, 15)): Decimal("80.00"),
        }
    )
    payment = Payment(bill=first, amount=Decimal("100.00"), method="cash")  # partial
    db.session.add(payment)
    db.session.commit()
    assert summary() == live() and summary()[(a.id, datetime.date(2026, 9, 15))] == Decimal("200.00")
    db.session.add(Payment(bill=second, amount=Decimal("120.50"), method="cash"))  # paid
    db.session.commit()
    assert summary() == live() and (b.id, datetime.date(2026, 9, 15)) not in summary()
    third.amount = Decimal("95.00")  # edited
    third.due_date = datetime.date(2026, 10, 20)
    db.session.commit()
    assert summary() == live()
    db.session.execute(update(Unit).where(Unit.id == ua.id).values(building_id=b.id))  # the unit moves
    db.session.commit()
    assert summary() == live() and all(key[0] == b.id for key in summary())
    db.session.delete(third)
    db.session.commit()
    assert summary() == live()


def test_outstanding_is_one_rule_in_python_and_in_sql(app, ctx):
    """Bill.outstanding reads the same on a loaded bill and in a query (sums, filters, arrears)."""
    from sqlalchemy import update

    bill = factories.bill(amount=D("300.10"))
    # as settlement writes them (paid and written-off amounts are kept by app.billing.bills, not by hand)
    db.session.execute(
        update(Bill).where(Bill.id == bill.id).values(paid_amount=D("100.05"), written_off_amount=D("0.05"))
    )
    db.session.commit()
    db.session.refresh(bill)
    assert bill.outstanding == D("200.00")
    assert D(str(db.session.query(Bill.outstanding).filter(Bill.id == bill.id).scalar())) == D("200.00")
    assert db.session.query(Bill.id).filter(Bill.id == bill.id, Bill.outstanding > 0).scalar() == bill.id
