"""The bulk data generator writes data the app itself would accept: histories, numbers, settled bills."""

import datetime
from decimal import Decimal

from sqlalchemy import func, select

from app.billing.bills import bill_status
from app.extensions import db
from app.devdata.generate import generate, is_empty, staff_handlers
from app.models import NumberSequence, Bill, Customer, Payment, Ticket, TicketEvent, Unit, customer_tag
from tests import factories

TINY = dict(buildings=3, units_per_building=20, tickets=400, months=3)
NOW = datetime.datetime(2026, 11, 20, 8, 0, tzinfo=datetime.timezone.utc)


def _generate():
    counts = generate(
        db.session.connection(), TINY, seed=7, now=NOW, log=lambda *_: None, staff_user_ids=staff_handlers(db.session)
    )
    db.session.commit()
    return counts


def test_generates_the_requested_size_in_bulk(ctx):
    assert is_empty(db.session.connection())
    counts = _generate()
    assert not is_empty(db.session.connection())
    assert counts["unit"] == 60 and counts["customer"] == 60 and counts["ticket"] == 400
    assert counts["bill"] == 3 * 60
    assert db.session.scalar(select(func.count()).select_from(customer_tag)) > 0
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 400


def test_every_ticket_has_its_history_ending_in_its_status(ctx):
    _generate()
    last_status = dict(
        db.session.execute(
            select(TicketEvent.ticket_id, TicketEvent.to_status)
            .where(TicketEvent.kind.in_(("created", "status")))
            .order_by(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.id)
        ).all()
    )
    tickets = db.session.execute(select(Ticket.id, Ticket.status, Ticket.number)).all()
    assert len(last_status) == len(tickets)
    assert all(last_status[ticket_id] == status for ticket_id, status, _ in tickets)
    numbers = [number for _, _, number in tickets]
    assert len(set(numbers)) == len(numbers) and all(n.startswith("WO") for n in numbers)
    # each day's counter holds that day's last number, so the app numbers on from there
    per_day = {}
    for number in numbers:
        per_day[number[:10]] = max(per_day.get(number[:10], 0), int(number[10:]))
    counters = dict(
        db.session.execute(select(NumberSequence.key, NumberSequence.value).where(NumberSequence.key.like("WO%"))).all()
    )
    assert counters == per_day


def test_bills_are_settled_by_their_payments(ctx):
    _generate()
    paid = dict(db.session.execute(select(Payment.bill_id, func.sum(Payment.amount)).group_by(Payment.bill_id)).all())
    for bill in db.session.scalars(select(Bill)):
        expected = Decimal(paid.get(bill.id) or 0).quantize(Decimal("0.01"))
        assert bill.paid_amount == expected
        assert bill.status == bill_status(bill.amount, expected, Decimal("0"))
    receipts = db.session.scalars(select(Payment.receipt_number)).all()
    assert len(set(receipts)) == len(receipts)


def test_the_app_keeps_working_on_generated_data(ctx, admin_client):
    """New records get fresh ids and numbers after the generated ones (sequences and daily counters)."""
    _generate()
    unit = db.session.scalars(select(Unit)).first()
    customer = db.session.scalars(select(Customer)).first()
    ticket = factories.ticket(customer=customer, unit=unit)
    db.session.commit()
    assert ticket.id > 400
    assert db.session.scalar(select(func.count()).where(Ticket.number == ticket.number)) == 1
    assert admin_client.get(f"/ticketview/show/{ticket.id}").status_code == 200
    assert admin_client.get("/ticketview/list/").status_code == 200
    assert admin_client.get("/customerview/list/").status_code == 200


def test_the_command_refuses_a_database_with_data(app, ctx):
    factories.customer()
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["crm", "generate", "--size", "small"])
    assert result.exit_code != 0
    assert "--force" in result.output


def test_finished_tickets_are_rated_when_resolved(ctx):
    from app.models import TicketRating

    counts = _generate()
    finished = db.session.scalar(
        select(func.count()).select_from(Ticket).where(Ticket.status.in_(("resolved", "closed")))
    )
    rows = db.session.execute(
        select(TicketRating.stars, TicketRating.rated_at, Ticket.resolved_at, Ticket.status).join(
            Ticket, Ticket.id == TicketRating.ticket_id
        )
    ).all()
    assert counts["ticket_rating"] == len(rows) and 0.5 * finished < len(rows) < 0.7 * finished
    assert {stars for stars, *_ in rows} == {2, 3, 4, 5}
    assert all(rated == resolved and status in ("resolved", "closed") for _s, rated, resolved, status in rows)
