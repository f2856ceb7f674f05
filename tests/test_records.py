"""Rules that hold on every write path: ticket numbers and history, bill totals from payments."""

import re
from decimal import Decimal

import pytest

from app.core.errors import DomainError
from app.extensions import db
from app.models import Payment, TicketEvent
from tests import factories


def test_new_ticket_gets_a_daily_number_and_a_created_event(ctx):
    first, second = factories.ticket(), factories.ticket()
    assert re.fullmatch(r"WO\d{8}0001", first.number)
    assert int(second.number[-4:]) == 2 and second.number[:10] == first.number[:10]
    assert [(e.kind, e.to_status) for e in first.events] == [("created", "new")]


def test_status_and_assignee_changes_are_logged_with_the_actor(admin_client, ctx, user_id):
    ticket = factories.ticket()
    tech = user_id("Technician")
    response = admin_client.put(f"/api/v1/ticket/{ticket.id}", json={"status": "assigned", "assignee": tech})
    assert response.status_code == 200, response.json
    db.session.expire_all()
    events = db.session.query(TicketEvent).filter_by(ticket_id=ticket.id).order_by(TicketEvent.id).all()
    assert [e.kind for e in events] == ["created", "status", "assigned"]
    assert (events[1].from_status, events[1].to_status) == ("new", "assigned")
    assert events[1].actor_id == user_id("Admin")
    assert db.session.get(type(ticket), ticket.id).updated_by_id == user_id("Admin")


def test_ticket_history_cannot_be_edited_or_deleted(ctx):
    ticket = factories.ticket()
    event = ticket.events[0]
    event.note = "改写历史"
    with pytest.raises(DomainError):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(TicketEvent, event.id))
    with pytest.raises(DomainError):
        db.session.commit()
    db.session.rollback()


def test_payments_settle_the_bill(ctx):
    bill = factories.bill(amount=Decimal("300.00"))
    db.session.add(Payment(bill=bill, amount=Decimal("100.10"), method="cash"))
    db.session.commit()
    assert (bill.status, bill.paid_amount, bill.outstanding) == ("partial", Decimal("100.10"), Decimal("199.90"))
    db.session.add(Payment(bill=bill, amount=Decimal("199.90"), method="wechat"))
    db.session.commit()
    assert (bill.status, bill.paid_amount) == ("paid", Decimal("300.00"))
    assert all(re.fullmatch(r"RC\d{12}", p.receipt_number) for p in bill.payments)


def test_overpayment_is_refused_through_the_api_and_nothing_saved(admin_client, ctx):
    bill = factories.bill(amount=Decimal("50.00"))
    response = admin_client.post("/api/v1/payment/", json={"bill": bill.id, "amount": "60.00", "method": "cash"})
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.query(Payment).count() == 0
    assert db.session.get(type(bill), bill.id).status == "unpaid"


def test_payment_page_records_a_partial_payment(admin_client, ctx):
    bill = factories.bill(amount=Decimal("80.00"))
    response = admin_client.post(
        "/paymentview/add", data={"bill": str(bill.id), "amount": "30", "method": "cash", "paid_at": "2026-11-20 10:00"}
    )
    assert response.status_code == 302
    db.session.expire_all()
    bill = db.session.get(type(bill), bill.id)
    assert (bill.status, bill.paid_amount) == ("partial", Decimal("30.00"))


def test_form_times_are_local_and_stored_as_utc(admin_client, ctx):
    bill = factories.bill(amount=Decimal("80.00"))
    admin_client.post(
        "/paymentview/add", data={"bill": str(bill.id), "amount": "30", "method": "cash", "paid_at": "2026-11-20 10:00"}
    )
    payment = db.session.query(Payment).one()
    assert payment.paid_at.utcoffset().total_seconds() == 0
    assert payment.paid_at.hour == 2  # 10:00 in Shanghai


def test_the_payment_form_starts_with_the_current_time(admin_client, ctx):
    """A time that defaults to now is filled in: a payment taken at the desk needs no typing of the time."""
    page = admin_client.get("/paymentview/add").get_data(as_text=True)
    field = re.search(r'<input[^>]*name="paid_at"[^>]*>', page).group(0)
    assert re.search(r'value="20\d\d-\d\d-\d\d \d\d:\d\d:\d\d"', field)


def test_an_edit_form_shows_local_time_and_saves_unchanged(admin_client, ctx):
    """Regression: the picker showed the raw UTC value ("…+00:00"), which the form then refused."""
    import datetime as dt

    ticket = factories.ticket(title="门锁坏了", deadline=dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.timezone.utc))
    page = admin_client.get(f"/ticketview/edit/{ticket.id}").get_data(as_text=True)
    field = re.search(r'<input[^>]*name="deadline"[^>]*>', page).group(0)
    assert 'value="2026-11-30 10:00:00"' in field  # 10:00 in Shanghai
    response = admin_client.post(
        f"/ticketview/edit/{ticket.id}",
        data={
            "title": "门锁坏了（已联系）",
            "type": "repair",
            "priority": "medium",
            "status": ticket.status,
            "channel": "phone",
            "deadline": "2026-11-30 10:00:00",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(type(ticket), ticket.id).deadline == dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.timezone.utc)
