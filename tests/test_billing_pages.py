"""Billing pages and API: generation, reversal, write-off approval, arrears, fee rule checks."""

from decimal import Decimal

from app.extensions import db
from app.models import Bill, BillingRun, FeeRule, Payment, WriteOff
from tests import factories
from tests.test_billing import estate, overdue_bills  # noqa: F401 - fixtures and data shared with the rules' tests


def test_admin_generates_a_period_from_the_page(admin_client, estate, now):  # noqa: F811
    from app.admin.tasks import run_pending

    response = admin_client.post("/billingrunview/generate", data={"period": "2026-11"})
    assert response.status_code == 302 and "task=" in response.headers["Location"]
    run_pending(db.session, now)  # the scheduler's worker
    assert db.session.query(Bill).filter_by(period="2026-11").count() == 5
    run = db.session.query(BillingRun).one()
    page = admin_client.get(f"/billingrunview/show/{run.id}").get_data(as_text=True)
    assert "A1-103" in page  # the problems are listed on the run


def test_a_bad_period_is_refused_and_nothing_runs(admin_client, ctx):
    page = admin_client.post("/billingrunview/generate", data={"period": "2026-13"}).get_data(as_text=True)
    assert "YYYY-MM" in page and db.session.query(BillingRun).count() == 0


def test_a_supervisor_reverses_a_payment_with_a_reason(login, ctx):
    bill = factories.bill(amount=Decimal("300"))
    payment = Payment(bill=bill, amount=Decimal("120"), method="cash")
    db.session.add(payment)
    db.session.commit()
    assert login("Service").post(f"/paymentview/reverse/{payment.id}", data={"reason": "错收"}).status_code in (
        302,
        403,
    )
    assert db.session.query(Payment).count() == 1
    supervisor = login("Supervisor")
    page = supervisor.post(f"/paymentview/reverse/{payment.id}", data={"reason": ""}).get_data(as_text=True)
    assert "请填写冲正原因" in page and db.session.query(Payment).count() == 1
    response = supervisor.post(f"/paymentview/reverse/{payment.id}", data={"reason": "顾客重复扫码，已退款"})
    assert response.status_code == 302
    db.session.expire_all()
    assert (db.session.get(Bill, bill.id).paid_amount, db.session.query(Payment).count()) == (Decimal("0.00"), 2)


def test_write_off_requested_at_the_desk_and_approved_by_a_supervisor(login, ctx):
    bill = factories.bill(amount=Decimal("300"))
    desk = login("Service")
    desk.post("/writeoffview/add", data={"bill": str(bill.id), "amount": "300", "reason": "开发商承担空置期物业费"})
    request = db.session.query(WriteOff).one()
    assert request.status == "pending"
    desk.post("/writeoffview/action_post", data={"action": "approve", "rowid": [request.id]})
    db.session.expire_all()
    assert db.session.get(WriteOff, request.id).status == "pending"
    login("Supervisor").post("/writeoffview/action_post", data={"action": "approve", "rowid": [request.id]})
    db.session.expire_all()
    assert db.session.get(WriteOff, request.id).status == "approved"
    assert db.session.get(Bill, bill.id).status == "written_off"


def test_the_api_decision_follows_the_same_rule(login, ctx, user_id):
    bill = factories.bill(amount=Decimal("300"))
    service = login("Service")
    created = service.post("/api/v1/write_off/", json={"bill": bill.id, "amount": "20", "reason": "尾差"})
    assert created.status_code == 201
    pk = created.get_json()["id"]
    assert service.put(f"/api/v1/write_off/{pk}", json={"status": "approved"}).status_code == 403
    assert login("Supervisor").put(f"/api/v1/write_off/{pk}", json={"status": "approved"}).status_code == 200
    db.session.expire_all()
    assert db.session.get(Bill, bill.id).written_off_amount == Decimal("20.00")
    assert login("Admin").put(f"/api/v1/write_off/{pk}", json={"status": "rejected"}).status_code == 422


def test_arrears_page_shows_buildings_and_customers_with_buckets(login, ctx):
    customer, unit = overdue_bills()
    page = login("Manager").get("/arrears/").get_data(as_text=True)
    assert "欠费户" in page and unit.building.name in page and "1,000.00" in page
    assert login("Technician").get("/arrears/").status_code in (302, 403)


def test_fee_rule_tiers_are_checked_on_the_form(admin_client, ctx):
    page = admin_client.post(
        "/feeruleview/add",
        data={
            "name": "阶梯水价",
            "fee_type": "water",
            "method": "metered",
            "price": "0",
            "tiers": "40:4, 20:3",
            "bill_to": "occupant",
            "effective_from": "2026-01-01",
            "due_day": "20",
        },
    ).get_data(as_text=True)
    assert "20:3.50" in page and db.session.query(FeeRule).count() == 0
