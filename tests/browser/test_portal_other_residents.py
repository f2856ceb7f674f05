"""A resident changing an id in an address on their phone reaches nothing of another resident: not
their request, its photos, their receipt or payment order, and paying their bill is refused."""

import json

import pytest

from tests.browser.conftest import flask_command, in_app

pytestmark = pytest.mark.browser

TWO_RESIDENTS = """
import datetime, json
from decimal import Decimal
from app.core.clock import utcnow
from app.policy.principal import SYSTEM, acting_as
links = db.session.query(CustomerUnit).order_by(CustomerUnit.id).all()
mine = links[0]
theirs = next(link for link in links if link.customer_id != mine.customer_id)
ticket = Ticket(title="别人家的报修", type="repair", customer_id=theirs.customer_id, unit_id=theirs.unit_id,
                channel="web", description="他人的诉求")
bill = Bill(customer_id=theirs.customer_id, unit_id=theirs.unit_id, period="2031-02", fee_type="property",
            amount=Decimal("66.00"), due_date=datetime.date(2031, 2, 15))
db.session.add_all([ticket, bill])
db.session.flush()
payment = Payment(bill_id=bill.id, amount=Decimal("10.00"), method="cash", receipt_number="RCPT-OTHER-0001")
db.session.add(payment)
db.session.commit()
print(json.dumps({"phone": db.session.get(Customer, mine.customer_id).phone, "ticket": ticket.number,
                  "bill": bill.id, "receipt": payment.receipt_number}))
"""


def test_another_residents_records_are_not_reachable_by_changing_an_id(phone, server, server_env):
    other = json.loads(in_app(server_env, TWO_RESIDENTS))
    link = flask_command(server_env, "crm", "portal-link", other["phone"]).strip()
    phone.goto(link.replace("http://127.0.0.1:5000", server))
    assert phone.locator("h1").inner_text() == "住户服务"

    for path in (
        f"/portal/requests/{other['ticket']}",
        f"/portal/requests/{other['ticket']}/photos/x.png",
        f"/portal/bills/receipts/{other['receipt']}",
        "/portal/pay/orders/NO-SUCH-ORDER",
    ):
        response = phone.goto(server + path)
        assert response.status == 404, path
        assert "别人家的报修" not in phone.content() and "RCPT-OTHER-0001" not in phone.content()

    # the pay button's address changed to the other resident's bill: refused, and no order is made
    phone.goto(server + "/portal/")
    phone.evaluate(
        """bill => {
            const form = document.createElement("form");
            form.method = "post";
            form.action = "/portal/bills/" + bill + "/pay";
            const token = document.querySelector("input[name=csrf_token]");
            form.appendChild(token.cloneNode());
            document.body.appendChild(form);
            form.submit();
        }""",
        other["bill"],
    )
    phone.wait_for_load_state("networkidle")
    assert "/portal/pay/orders/" not in phone.url
    orders = in_app(server_env, f"print(db.session.query(PaymentOrder).filter_by(bill_id={other['bill']}).count())")
    assert orders.strip() == "0"
    assert phone.js_errors == []
