"""Contracts: drafts, approval by a supervisor, expiry by itself, and reminders with a frozen clock."""

import datetime
from decimal import Decimal

import pytest

from app.care import contracts
from app.core.errors import DomainError, NotAllowed
from app.extensions import db
from app.models import Contract, ContractReminder, Notification, Supplier
from app.core.column_types import UTC
from tests import factories

NOW = datetime.datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def contract(**kw):
    values = dict(
        number=kw.pop("number", f"HT-{next(factories._seq)}"),
        title="商铺租赁合同",
        kind="lease",
        start_date=datetime.date(2026, 1, 1),
        end_date=datetime.date(2026, 12, 31),
        amount=Decimal("12000.00"),
        payment_cycle="quarterly",
    )
    values.update(kw)
    if values["kind"] != "supplier" and "customer" not in values and "customer_id" not in values:
        values["customer"] = factories.customer()
    obj = Contract(**values)
    db.session.add(obj)
    db.session.commit()
    return obj


def user(app, role):
    from tests.conftest import ROLE_USERS

    return app.appbuilder.sm.find_user(username=ROLE_USERS[role])


def test_rent_due_dates_follow_the_cycle_and_month_ends():
    c = Contract(start_date=datetime.date(2026, 1, 31), end_date=datetime.date(2026, 12, 31), payment_cycle="monthly")
    dates = contracts.rent_due_dates(c)
    assert dates[:3] == [datetime.date(2026, 1, 31), datetime.date(2026, 2, 28), datetime.date(2026, 3, 31)]
    assert len(dates) == 12
    c.payment_cycle = "quarterly"
    assert contracts.rent_due_dates(c) == [
        datetime.date(2026, 1, 31),
        datetime.date(2026, 4, 30),
        datetime.date(2026, 7, 31),
        datetime.date(2026, 10, 31),
    ]
    c.payment_cycle = "once"
    assert contracts.rent_due_dates(c) == [datetime.date(2026, 1, 31)]
    c.payment_cycle, c.start_date, c.end_date = "monthly", datetime.date(2027, 12, 31), datetime.date(2028, 3, 1)
    assert contracts.rent_due_dates(c) == [
        datetime.date(2027, 12, 31),
        datetime.date(2028, 1, 31),
        datetime.date(2028, 2, 29),
    ]  # a leap year's February


def test_submit_approve_and_terminate(app, ctx):
    c = contract()
    assert c.status == "draft"
    contracts.submit(db.session, c, NOW)
    assert (c.status, c.submitted_at) == ("pending", NOW)
    with pytest.raises(NotAllowed):
        contracts.approve(db.session, c, user(app, "Service"), NOW, NOW.date())
    assert c.status == "pending"
    contracts.approve(db.session, c, user(app, "Supervisor"), NOW, NOW.date())
    assert (c.status, c.approved_by_id) == ("active", user(app, "Supervisor").id)
    with pytest.raises(DomainError, match="不能"):
        contracts.submit(db.session, c, NOW)
    contracts.terminate(db.session, c, user(app, "Admin"), NOW)
    assert (c.status, c.terminated_at) == ("terminated", NOW)
    with pytest.raises(DomainError):
        contracts.terminate(db.session, c, user(app, "Admin"), NOW)


def test_a_rejected_contract_goes_back_to_draft_and_only_drafts_are_edited(app, ctx):
    c = contract()
    contracts.submit(db.session, c, NOW)
    with pytest.raises(DomainError, match="只有草稿"):
        contracts.check_editable(c)
    contracts.reject(db.session, c, user(app, "Supervisor"))
    assert (c.status, c.submitted_at) == ("draft", None)
    contracts.check_editable(c)


def test_approving_a_contract_that_already_ended_makes_it_expired(app, ctx):
    c = contract(end_date=datetime.date(2026, 6, 30))
    contracts.submit(db.session, c, NOW)
    contracts.approve(db.session, c, user(app, "Admin"), NOW, NOW.date())
    assert c.status == "expired"


def test_parties_are_required_by_kind(ctx):
    with pytest.raises(DomainError, match="供应商"):
        contracts.check_contract(Contract(kind="supplier", start_date=NOW.date(), end_date=NOW.date()))
    with pytest.raises(DomainError, match="客户"):
        contracts.check_contract(Contract(kind="lease", start_date=NOW.date(), end_date=NOW.date()))
    with pytest.raises(DomainError, match="结束日期"):
        contracts.check_contract(
            Contract(
                kind="supplier",
                supplier=Supplier(name="x"),
                start_date=NOW.date(),
                end_date=NOW.date() - datetime.timedelta(days=1),
            )
        )


def active(app, **kw):
    c = contract(**kw)
    contracts.submit(db.session, c, NOW)
    contracts.approve(db.session, c, user(app, "Supervisor"), NOW, datetime.date(2026, 1, 1))
    return c


def test_expired_contracts_change_status_by_themselves(app, ctx):
    ending = active(app, end_date=datetime.date(2026, 11, 22))
    running = active(app, end_date=datetime.date(2026, 11, 23))
    assert contracts.expire_contracts(db.session, datetime.date(2026, 11, 23)) == 1
    db.session.expire_all()
    assert (ending.status, running.status) == ("expired", "active")
    assert contracts.expire_contracts(db.session, datetime.date(2026, 11, 23)) == 0


def test_expiry_reminder_reaches_the_responsible_staff_once(app, ctx, user_id):
    c = active(
        app,
        end_date=datetime.date(2026, 12, 20),
        remind_days=30,
        payment_cycle="once",
        responsible_id=user_id("Service"),
    )
    # 31 days before: not yet
    assert contracts.send_reminders(db.session, datetime.date(2026, 11, 19), NOW) == {"expiry": 0, "rent": 0}
    assert contracts.send_reminders(db.session, datetime.date(2026, 11, 20), NOW) == {"expiry": 1, "rent": 0}
    # the job runs again the same day and the next day: nothing is sent twice
    assert contracts.send_reminders(db.session, datetime.date(2026, 11, 20), NOW) == {"expiry": 0, "rent": 0}
    assert contracts.send_reminders(db.session, datetime.date(2026, 11, 21), NOW) == {"expiry": 0, "rent": 0}
    notes = db.session.query(Notification).all()
    assert [n.user_id for n in notes] == [user_id("Service")]
    assert c.number in notes[0].title and "30 天" in notes[0].body
    assert db.session.query(ContractReminder).one().kind == "expiry"


def test_rent_reminders_before_each_due_date(app, ctx, user_id):
    c = active(
        app,
        start_date=datetime.date(2026, 1, 15),
        end_date=datetime.date(2027, 1, 14),
        payment_cycle="quarterly",
        rent_remind_days=7,
        remind_days=0,
        responsible_id=user_id("Service"),
    )
    sent = {}
    day = datetime.date(2026, 1, 1)
    while day <= datetime.date(2027, 1, 14):
        for _ in range(2):  # the job runs twice a day
            result = contracts.send_reminders(db.session, day, NOW)
            if result["rent"]:
                sent.setdefault(day, 0)
                sent[day] += result["rent"]
        day += datetime.timedelta(days=1)
    # started in January before the job ran: the first due date is reminded on the first run
    assert sent == {
        datetime.date(2026, 1, 8): 1,
        datetime.date(2026, 4, 8): 1,
        datetime.date(2026, 7, 8): 1,
        datetime.date(2026, 10, 8): 1,
    }
    reminders = (
        db.session.query(ContractReminder)
        .filter_by(contract_id=c.id, kind="rent")
        .order_by(ContractReminder.due_date)
        .all()
    )
    assert [r.due_date for r in reminders] == [
        datetime.date(2026, 1, 15),
        datetime.date(2026, 4, 15),
        datetime.date(2026, 7, 15),
        datetime.date(2026, 10, 15),
    ]
    assert db.session.query(Notification).filter(Notification.title.contains("租金")).count() == 4


def test_without_a_responsible_person_the_supervisors_are_reminded(app, ctx, user_id):
    active(app, end_date=datetime.date(2026, 12, 1), payment_cycle="once")
    contracts.send_reminders(db.session, datetime.date(2026, 11, 23), NOW)
    # those who may approve contracts: the administrator and the supervisor (not the desk)
    assert [n.user_id for n in db.session.query(Notification)] == [user_id("Admin"), user_id("Supervisor")]


def test_draft_pending_and_terminated_contracts_get_no_reminders(app, ctx, user_id):
    contract(end_date=datetime.date(2026, 12, 1), responsible_id=user_id("Service"))
    done = active(app, end_date=datetime.date(2026, 12, 1), responsible_id=user_id("Service"))
    contracts.terminate(db.session, done, user(app, "Admin"), NOW)
    assert contracts.daily(db.session, datetime.date(2026, 11, 23), NOW) == {"expiry": 0, "rent": 0, "expired": 0}


def test_the_job_expires_and_reminds(app, ctx):
    from app.jobs import contract_reminders

    active(app, end_date=datetime.date(2026, 1, 31))
    result = contract_reminders(app)
    assert result["expired"] == 1
    assert db.session.query(Contract).one().status == "expired"


def test_pages_add_submit_and_approve(app, login, ctx, user_id, today):
    customer = factories.customer()
    service = login("Service")
    start, end = today - datetime.timedelta(days=300), today + datetime.timedelta(days=60)
    form = {
        "number": "HT-2026-001",
        "title": "写字楼租赁",
        "kind": "lease",
        "customer": str(customer.id),
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "amount": "5000",
        "payment_cycle": "monthly",
        "remind_days": "30",
        "rent_remind_days": "7",
    }
    assert service.post("/contractview/add", data=form).status_code == 302
    c = db.session.query(Contract).one()
    assert (c.status, c.customer_id) == ("draft", customer.id)
    # bad input: end before start, a clear message, nothing saved
    bad = dict(form, number="HT-2026-002", end_date=(start - datetime.timedelta(days=1)).isoformat())
    page = service.post("/contractview/add", data=bad, follow_redirects=True)
    assert "结束日期不能早于开始日期" in page.get_data(as_text=True)
    assert db.session.query(Contract).count() == 1
    service.post(f"/contractview/action/submit/{c.id}")
    db.session.expire_all()
    assert c.status == "pending"
    # the service desk cannot approve; a supervisor can
    service.post(f"/contractview/action/approve/{c.id}")
    db.session.expire_all()
    assert c.status == "pending"
    login("Supervisor").post(f"/contractview/action/approve/{c.id}")
    db.session.expire_all()
    assert c.status == "active"
    # an active contract is no longer edited
    page = login("Supervisor").post(
        f"/contractview/edit/{c.id}", data=dict(form, title="改过的"), follow_redirects=True
    )
    assert "只有草稿合同可以修改" in page.get_data(as_text=True)
    db.session.expire_all()
    assert c.title == "写字楼租赁"
    listing = login("Manager").get("/contractview/list/").get_data(as_text=True)
    assert "HT-2026-001" in listing and "生效中" in listing


def test_the_api_adds_drafts_and_refuses_to_change_approved_contracts(app, login, ctx):
    customer = factories.customer()
    client = login("Service")
    payload = {
        "number": "HT-API-1",
        "title": "服务合同",
        "kind": "service",
        "customer": customer.id,
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "amount": "800.00",
        "payment_cycle": "monthly",
        "remind_days": 30,
        "rent_remind_days": 7,
    }
    created = client.post("/api/v1/contract/", json=payload)
    assert created.status_code == 201, created.get_json()
    c = db.session.get(Contract, created.get_json()["id"])
    assert c.status == "draft"
    assert client.post("/api/v1/contract/", json=dict(payload, number="HT-API-2", status="active")).status_code == 422
    bad = client.post("/api/v1/contract/", json=dict(payload, number="HT-API-3", end_date="2025-01-01"))
    assert bad.status_code == 422 and "结束日期" in str(bad.get_json())
    contracts.submit(db.session, c, NOW)
    refused = client.put(f"/api/v1/contract/{c.id}", json={"title": "改名"})
    assert refused.status_code == 422 and "只有草稿" in str(refused.get_json())
    db.session.expire_all()
    assert c.title == "服务合同" and db.session.query(Contract).count() == 1


def test_a_supplier_or_customer_with_contracts_is_not_deleted(app, login, ctx):
    from app.policy.records import check_delete
    from app.core.errors import DeleteRefused

    supplier = Supplier(name="迅达电梯")
    c = contract(kind="supplier", supplier=supplier)
    with pytest.raises(DeleteRefused, match="合同"):
        check_delete(db.session, supplier)
    with pytest.raises(DeleteRefused, match="合同"):
        check_delete(db.session, contract().customer)
    page = login("Admin").post(f"/supplierview/delete/{supplier.id}", follow_redirects=True)
    assert "该供应商有合同" in page.get_data(as_text=True)
    assert db.session.get(Contract, c.id) is not None
