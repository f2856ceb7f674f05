"""我的账单: a resident sees their own bills, arrears, payments and receipts, and pays a bill online."""

from decimal import Decimal

from sqlalchemy import select

from app.extensions import db
from app.models import Bill, Payment, PaymentOrder
from tests import factories


def _two_residents():
    mine = factories.bill(amount=Decimal("300.00"), period="2026-10")
    factories.bill(customer_obj=mine.customer, unit_obj=mine.unit, amount=Decimal("120.50"), period="2026-11")
    theirs = factories.bill(amount=Decimal("999.00"), period="2026-10")
    db.session.add(Payment(bill_id=theirs.id, amount=Decimal("100.00"), method="cash"))
    db.session.commit()
    their_receipt = db.session.execute(select(Payment.receipt_number)).scalar_one()
    return mine.customer_id, mine.id, theirs.customer_id, theirs.id, their_receipt


def test_bills_page_shows_only_own_bills_and_arrears(session, resident_login):
    mine, my_bill, _theirs, their_bill, their_receipt = _two_residents()
    page = resident_login(mine).get("/portal/bills")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "我的账单" in html and "欠费金额" in html
    assert "¥420.50" in html  # 300.00 + 120.50 outstanding
    assert f'data-bill="{my_bill}"' in html and f'data-bill="{their_bill}"' not in html
    assert "999.00" not in html and their_receipt not in html
    assert html.count("缴费 ¥") == 2


def test_home_page_has_the_bills_tile(session, resident_login):
    mine, *_ = _two_residents()
    html = resident_login(mine).get("/portal/").get_data(as_text=True)
    assert "我的账单" in html and "/portal/bills" in html


def test_signed_out_visitor_and_staff_reach_no_bills(app, session, login):
    _two_residents()
    for client in (app.test_client(), login("Admin")):
        response = client.get("/portal/bills")
        assert response.status_code == 302 and "/portal/sign-in" in response.headers["Location"]


def test_another_residents_receipt_bill_and_order_are_not_found(session, resident_login, now):
    mine, my_bill, theirs, their_bill, their_receipt = _two_residents()
    their_client = resident_login(theirs)
    response = their_client.post(f"/portal/bills/{their_bill}/pay")
    their_order = db.session.execute(select(PaymentOrder.out_trade_no)).scalar_one()
    assert response.headers["Location"].endswith(f"/portal/pay/orders/{their_order}")
    client = resident_login(mine)
    assert client.get(f"/portal/bills/receipts/{their_receipt}").status_code == 404
    assert client.get(f"/portal/pay/orders/{their_order}").status_code == 404
    assert client.get(f"/portal/pay/orders/{their_order}/go").status_code == 404
    assert client.get(f"/portal/pay/stand-in/{their_order}").status_code == 404
    assert client.post(f"/portal/pay/stand-in/{their_order}").status_code == 404
    # paying someone else's bill by its id: refused, no order made
    response = client.post(f"/portal/bills/{their_bill}/pay", follow_redirects=True)
    assert "没有找到这张账单" in response.get_data(as_text=True)
    assert db.session.execute(select(PaymentOrder.customer_id)).scalars().all() == [theirs]
    db.session.expire_all()
    assert db.session.get(Bill, their_bill).status == "partial"  # its desk payment only


def test_resident_pays_a_bill_through_the_stand_in(session, resident_login):
    mine, my_bill, *_ = _two_residents()
    client = resident_login(mine)
    response = client.post(f"/portal/bills/{my_bill}/pay")
    order = db.session.execute(select(PaymentOrder)).scalar_one()
    assert order.amount == Decimal("300.00") and order.status == "created" and order.gateway == "local"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "待支付" in page and "前往支付" in page
    go = client.get(f"/portal/pay/orders/{order.out_trade_no}/go")
    assert go.headers["Location"].endswith(f"/portal/pay/stand-in/{order.out_trade_no}")
    assert "确认支付" in client.get(go.headers["Location"]).get_data(as_text=True)
    # pressing 确认支付 again (a second tap) must not pay twice
    client.post(f"/portal/pay/stand-in/{order.out_trade_no}")
    done = client.post(f"/portal/pay/stand-in/{order.out_trade_no}", follow_redirects=True).get_data(as_text=True)
    assert "已支付" in done
    db.session.expire_all()
    assert db.session.get(Bill, my_bill).status == "paid"
    payments = db.session.execute(select(Payment).where(Payment.bill_id == my_bill)).scalars().all()
    assert len(payments) == 1 and payments[0].method == "wechat"
    html = client.get("/portal/bills").get_data(as_text=True)
    assert "已缴清" in html and payments[0].receipt_number in html and "¥120.50" in html
    receipt = client.get(f"/portal/bills/receipts/{payments[0].receipt_number}").get_data(as_text=True)
    assert "300.00" in receipt and "微信支付" in receipt


def test_paying_the_same_bill_twice_reuses_the_waiting_order(session, resident_login):
    mine, my_bill, *_ = _two_residents()
    client = resident_login(mine)
    client.post(f"/portal/bills/{my_bill}/pay")
    client.post(f"/portal/bills/{my_bill}/pay")
    assert len(db.session.execute(select(PaymentOrder)).scalars().all()) == 1


def test_a_settled_bill_cannot_be_ordered(session, resident_login):
    mine, my_bill, *_ = _two_residents()
    db.session.add(Payment(bill_id=my_bill, amount=Decimal("300.00"), method="cash"))
    db.session.commit()
    response = resident_login(mine).post(f"/portal/bills/{my_bill}/pay", follow_redirects=True)
    assert "这张账单已无待缴金额" in response.get_data(as_text=True)
    assert db.session.execute(select(PaymentOrder)).first() is None


def test_overdue_part_of_the_arrears_and_a_bounded_number_of_queries(session, resident_login, today, count_queries):
    import datetime

    first = factories.bill(amount=Decimal("80.00"), period="2026-01", due_date=today - datetime.timedelta(days=10))
    for month in range(2, 10):  # more bills and payments: the page's statements do not grow with them
        bill = factories.bill(
            customer_obj=first.customer,
            unit_obj=first.unit,
            amount=Decimal("50.00"),
            period=f"2026-{month:02d}",
            due_date=today + datetime.timedelta(days=10),
        )
        db.session.add(Payment(bill_id=bill.id, amount=Decimal("20.00"), method="cash"))
    db.session.commit()
    client = resident_login(first.customer_id)
    client.get("/portal/bills")
    with count_queries() as counter:
        html = client.get("/portal/bills").get_data(as_text=True)
    assert "¥320.00" in html  # 80 + 8 × (50 − 20)
    assert "其中已逾期 ¥80.00" in html
    assert counter.count <= 10, counter.statements
