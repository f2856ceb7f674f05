"""List pages and API lists cost the same number of SQL statements at any page size."""

import pytest

from app.extensions import db
from app.models import Bill, Building, Customer, CustomerUnit, Tag, Ticket, Unit
from tests import factories


@pytest.fixture
def many_rows(ctx):
    tags = [Tag(name=f"标签{i}", color="#112233") for i in range(5)]
    building = Building(code="Q1", name="查询楼")
    db.session.add_all(tags + [building])
    dept = factories.department()
    for i in range(120):
        unit = Unit(building=building, number=f"{i:04d}", area=80)
        customer = Customer(name=f"客户{i}", phone=f"1380000{i:04d}", tags=tags[: i % 4 + 1])
        customer.units.append(CustomerUnit(unit=unit, relation="owner"))
        db.session.add_all([unit, customer])
        db.session.add(Ticket(title=f"报修{i}", customer=customer, unit=unit, department=dept))
        db.session.add(
            Bill(
                customer=customer,
                unit=unit,
                period="2026-10",
                amount=100,
                due_date=__import__("datetime").date(2026, 11, 1),
            )
        )
    db.session.commit()


@pytest.mark.parametrize(
    "view", ["customerview", "ticketview", "unitview", "billview", "residenceview", "ticketeventview"]
)
def test_list_page_statements_do_not_grow_with_page_size(admin_client, count_queries, many_rows, view):
    name = {
        "customerview": "CustomerView",
        "ticketview": "TicketView",
        "unitview": "UnitView",
        "billview": "BillView",
        "residenceview": "ResidenceView",
        "ticketeventview": "TicketEventView",
    }[view]
    counts = []
    for size in (20, 100):
        admin_client.get(f"/{view}/list/?psize_{name}={size}")  # warm caches
        with count_queries() as counter:
            assert admin_client.get(f"/{view}/list/?psize_{name}={size}").status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
    assert counts[0] <= 15, counts


@pytest.mark.parametrize("resource", ["customer", "ticket", "unit", "bill", "communication", "payment"])
def test_api_list_statements_do_not_grow_with_page_size(admin_client, count_queries, many_rows, resource):
    counts = []
    for size in (20, 100):
        admin_client.get(f"/api/v1/{resource}/?q=(page_size:{size})")  # warm caches
        with count_queries() as counter:
            response = admin_client.get(f"/api/v1/{resource}/?q=(page_size:{size})")
            assert response.status_code == 200, response.json
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def test_customer_show_page_with_related_lists_is_bounded(admin_client, count_queries, many_rows):
    customer_id = db.session.query(Customer.id).first()[0]
    with count_queries() as counter:
        assert admin_client.get(f"/customerview/show/{customer_id}").status_code == 200
    assert counter.count <= 5, counter.statements  # the related lists load with their panels


def test_pages_keep_the_list_order_and_a_deep_page_holds_the_right_rows(admin_client, many_rows):
    """Pages load their ids first, then the rows: the rows still come in the page's order."""
    from sqlalchemy import select

    ordered = db.session.scalars(select(Customer.name).order_by(Customer.name.desc(), Customer.id.desc())).all()
    page = admin_client.get(
        "/customerview/list/?psize_CustomerView=20&page_CustomerView=2&_oc_CustomerView=name&_od_CustomerView=desc"
    ).get_data(as_text=True)
    shown = [name for name in ordered if f">{name}<" in page]
    assert shown == ordered[40:60]
    positions = [page.index(f">{name}<") for name in shown]
    assert positions == sorted(positions)

    numbers = db.session.scalars(select(Ticket.id).order_by(Ticket.number.desc(), Ticket.id.desc())).all()
    response = admin_client.get("/api/v1/ticket/?q=(order_column:number,order_direction:desc,page:3,page_size:25)")
    assert response.status_code == 200, response.json
    assert response.json["ids"] == numbers[75:100]

    # ordered by a related column (the customer's name) on the page: joins only in the ids query
    expected = db.session.scalars(
        select(Ticket.number).join(Ticket.customer).order_by(Customer.name.asc(), Ticket.id.asc())
    ).all()[20:40]
    page = admin_client.get(
        "/ticketview/list/?psize_TicketView=20&page_TicketView=1&_oc_TicketView=customer&_od_TicketView=asc"
    ).get_data(as_text=True)
    positions = [page.index(f">{number}<") for number in expected]
    assert positions == sorted(positions)
