"""Communication records link the customer's tickets; the customer page has one timeline of everything."""

import datetime
from decimal import Decimal

from app.extensions import db
from app.models import Communication, OutboxMessage, Payment
from app.policy.principal import SYSTEM
from app.customers.timeline import customer_timeline
from tests import factories

T0 = datetime.datetime(2026, 11, 1, 2, 0, tzinfo=datetime.timezone.utc)
H = datetime.timedelta(hours=1)


def test_the_ticket_select_offers_the_customers_open_tickets_first(login, ctx):
    customer, other = factories.customer(), factories.customer()
    closed = factories.ticket(customer=customer, title="旧工单", status="cancelled", created_at=T0)
    open_ = factories.ticket(customer=customer, title="在办工单", created_at=T0 - H)
    factories.ticket(customer=other, title="别人的工单")
    results = login("Service").get(f"/lookup/ticket?customer_id={customer.id}").get_json()["results"]
    assert [r["id"] for r in results] == [open_.id, closed.id]


def test_a_communication_links_tickets_and_refuses_unknown_ones(login, ctx):
    customer = factories.customer()
    ticket = factories.ticket(customer=customer)
    client = login("Service")
    data = {
        "customer": str(customer.id),
        "at": "2026-11-20 10:00",
        "channel": "phone",
        "summary": "回访维修情况，客户满意",
    }
    assert client.post("/communicationview/add", data=dict(data, tickets=["999999"])).status_code == 200
    assert db.session.query(Communication).count() == 0
    assert client.post("/communicationview/add", data=dict(data, tickets=[str(ticket.id)])).status_code == 302
    assert [t.id for t in db.session.query(Communication).one().tickets] == [ticket.id]


def test_the_timeline_has_everything_newest_first(login, ctx):
    customer = factories.customer(name="郑秀")
    unit = factories.unit()
    ticket = factories.ticket(customer=customer, title="门禁卡失效", created_at=T0)
    db.session.add(Communication(customer=customer, at=T0 + H, channel="phone", summary="电话沟通补卡"))
    bill = factories.bill(customer_obj=customer, unit_obj=unit, amount=Decimal("200"), created_at=T0 + 2 * H)
    db.session.add(Payment(bill=bill, amount=Decimal("50"), method="cash", paid_at=T0 + 3 * H))
    db.session.add(
        OutboxMessage(
            dedupe_key="x",
            customer_id=customer.id,
            channel="sms",
            address=customer.phone,
            subject="缴费提醒",
            body="…",
            created_at=T0 + 4 * H,
            next_attempt_at=T0 + 4 * H,
        )
    )
    db.session.commit()
    kinds = [e.kind for e in customer_timeline(db.session, customer.id, SYSTEM)]
    assert kinds == ["message", "payment", "bill", "communication", "ticket"]
    page = login("Service").get(f"/customerview/timeline/{customer.id}").get_data(as_text=True)
    assert page.index("缴费提醒") < page.index("电话沟通补卡") < page.index("门禁卡失效")
    assert f"/ticketwork/{ticket.number}" in page
