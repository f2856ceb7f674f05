"""A resident pays a bill on their phone through the local stand-in; the gateway's notification arrives
twice and the bill is settled once."""

import json
import urllib.request

import pytest

from tests.browser.conftest import flask_command, in_app, no_horizontal_scroll

pytestmark = pytest.mark.browser

NEW_BILL = """
import datetime
from decimal import Decimal
link = db.session.query(CustomerUnit).order_by(CustomerUnit.id).first()
bill = Bill(customer_id=link.customer_id, unit_id=link.unit_id, period="2031-01", fee_type="property",
            amount=Decimal("88.00"), due_date=datetime.date(2031, 1, 15))
db.session.add(bill)
db.session.commit()
print(bill.id, db.session.get(Customer, link.customer_id).phone)
"""

NOTIFICATION = """
from app.core.clock import utcnow
from app.billing.payments import LocalGateway
order = db.session.query(PaymentOrder).filter_by(bill_id={bill}).one()
headers, body = LocalGateway(app.config).notification(order, utcnow())
import json
print(json.dumps({{"headers": headers, "body": body.decode()}}))
"""


def _post(url, headers, body):
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_resident_pays_a_bill_and_a_repeated_notification_settles_it_once(phone, server, server_env):
    bill_id, phone_number = in_app(server_env, NEW_BILL).split()
    link = flask_command(server_env, "crm", "portal-link", phone_number).strip()
    phone.goto(link.replace("http://127.0.0.1:5000", server))
    phone.get_by_role("link", name="我的账单").tap()
    phone.wait_for_url("**/portal/bills")
    card = phone.locator(f'[data-bill="{bill_id}"]')
    assert "未缴" in card.inner_text()
    assert no_horizontal_scroll(phone)
    card.get_by_role("button", name="缴费 ¥88.00").tap()
    phone.wait_for_url("**/portal/pay/orders/*")
    assert phone.locator("[data-order-status]").inner_text() == "待支付"
    phone.get_by_role("link", name="前往支付").tap()
    phone.wait_for_url("**/portal/pay/stand-in/*")
    assert no_horizontal_scroll(phone)
    phone.get_by_role("button", name="确认支付").tap()
    phone.wait_for_url("**/portal/pay/orders/*")
    assert phone.locator("[data-order-status]").inner_text() == "已支付"

    # the gateway repeats its notification (twice more, from outside the page): acknowledged, no change
    sent = json.loads(in_app(server_env, NOTIFICATION.format(bill=bill_id)))
    for _attempt in range(2):
        assert _post(f"{server}/portal/pay/notify/local", sent["headers"], sent["body"]) == (200, {"code": "SUCCESS"})

    phone.goto(server + "/portal/bills")
    assert "已缴清" in phone.locator(f'[data-bill="{bill_id}"]').inner_text()
    assert phone.locator(f'[data-bill="{bill_id}"]').get_by_role("button").count() == 0
    history = phone.locator("[data-payments] li").all_inner_texts()
    assert len([line for line in history if "¥88.00" in line]) == 1
    counted = in_app(
        server_env,
        f"print(db.session.query(Payment).filter_by(bill_id={bill_id}).count(),"
        f" db.session.query(PaymentOrder).filter_by(bill_id={bill_id}).one().notified_count)",
    ).split()
    assert counted == ["1", "3"]
    assert no_horizontal_scroll(phone)
