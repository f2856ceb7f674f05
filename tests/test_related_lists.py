"""A show page's related lists load on demand (``/<view>/related/<pk>/<RelatedView>``): the page itself
runs no query for them, and each list keeps the related view's row scope and field levels."""

import pytest

from app.extensions import db
from app.models import FieldPermission, StaffProfile
from tests import factories
from tests.pages import related_urls

SHOW_STATEMENTS = 5  # the user, the record (its related lists load with their panels)


def configure(app, role, resource, field, level):
    db.session.add(
        FieldPermission(role_id=app.appbuilder.sm.find_role(role).id, resource=resource, field=field, level=level)
    )
    db.session.commit()


@pytest.fixture
def busy_customer(ctx):
    """A customer with one residence and ``n`` tickets: call with the number of tickets wanted."""

    def make(name, tickets):
        unit = factories.unit()
        customer = factories.customer(name=name, units=[unit])
        for i in range(tickets):
            factories.ticket(customer=customer, unit=unit, title=f"{name}的报修{i}")
        return customer

    return make


def test_the_show_page_offers_its_related_lists_without_loading_them(admin_client, busy_customer):
    customer = busy_customer("林黛玉", 3)
    page = admin_client.get(f"/customerview/show/{customer.id}").get_data(as_text=True)
    assert "林黛玉的报修0" not in page  # the rows come with the panel, not with the page
    assert related_urls(page) == [
        f"/customerview/related/{customer.id}/{view}"
        for view in ("ResidenceView", "TicketView", "CommunicationView", "BillView")
    ]
    tickets = admin_client.get(f"/customerview/related/{customer.id}/TicketView").get_data(as_text=True)
    assert all(f"林黛玉的报修{i}" in tickets for i in range(3))
    assert "/ticketview/show/" in tickets


def test_show_and_related_statements_do_not_grow_with_the_related_rows(admin_client, count_queries, busy_customer):
    few, many = busy_customer("少", 2).id, busy_customer("多", 40).id
    counts = {"show": [], "TicketView": [], "ResidenceView": []}
    for customer in (few, many):
        for kind, path in (
            ("show", f"/customerview/show/{customer}"),
            ("TicketView", f"/customerview/related/{customer}/TicketView"),
            ("ResidenceView", f"/customerview/related/{customer}/ResidenceView"),
        ):
            admin_client.get(path)  # warm caches
            db.session.expunge_all()  # each request starts with an empty session, as in a server
            with count_queries() as counter:
                assert admin_client.get(path).status_code == 200, path
            counts[kind].append(counter.count)
    assert all(a == b for a, b in counts.values()), counts
    assert counts["show"][0] <= SHOW_STATEMENTS, counts


def test_related_lists_follow_the_related_views_row_scope(login, ctx, user_id):
    ours, theirs = factories.department(name="工程一部"), factories.department(name="工程二部")
    db.session.add(StaffProfile(user_id=user_id("Technician"), department_id=ours.id, max_open_tickets=0))
    db.session.commit()
    customer = factories.customer(name="薛宝钗")
    mine = factories.ticket(
        customer=customer, title="我的工单", department=ours, assignee_id=user_id("Technician"), status="assigned"
    )
    factories.ticket(
        customer=customer, title="同事的工单", department=ours, assignee_id=user_id("Service"), status="assigned"
    )
    other = factories.ticket(customer=customer, title="外部门工单", department=theirs)
    client = login("Technician")
    tickets = client.get(f"/customerview/related/{customer.id}/TicketView").get_data(as_text=True)
    assert "我的工单" in tickets
    assert "同事的工单" not in tickets and "外部门工单" not in tickets
    # the record itself must be one the user may read here: another department's ticket has no lists
    assert client.get(f"/ticketview/related/{mine.id}/TicketEventView").status_code == 200
    assert client.get(f"/ticketview/related/{other.id}/TicketEventView").status_code == 404
    # the desk, who sees every ticket, gets all three
    desk = login("Service").get(f"/customerview/related/{customer.id}/TicketView").get_data(as_text=True)
    assert "我的工单" in desk and "同事的工单" in desk and "外部门工单" in desk


def test_related_lists_apply_field_levels_and_refuse_what_the_role_may_not_read(app, login, busy_customer):
    customer = busy_customer("贾宝玉", 1)
    bill = factories.bill(customer_obj=customer)
    configure(app, "Service", "Ticket", "title", "hidden")
    client = login("Service")
    tickets = client.get(f"/customerview/related/{customer.id}/TicketView").get_data(as_text=True)
    assert "/ticketview/show/" in tickets and "贾宝玉的报修0" not in tickets
    assert "贾宝玉的报修0" in login("Manager").get(f"/customerview/related/{customer.id}/TicketView").get_data(
        as_text=True
    )
    technician = login("Technician")  # technicians may not read bills: no panel, no list
    assert "BillView" not in technician.get(f"/customerview/show/{customer.id}").get_data(as_text=True)
    assert technician.get(f"/customerview/related/{customer.id}/BillView").status_code == 404
    assert str(bill.amount) not in technician.get(f"/customerview/related/{customer.id}/BillView").get_data(
        as_text=True
    )


def test_a_related_list_asked_for_wrongly_is_not_found(admin_client, busy_customer):
    customer = busy_customer("王熙凤", 1)
    for path in (
        f"/customerview/related/{customer.id}/NoSuchView",
        f"/customerview/related/{customer.id}/TagView",  # a view, but not one of this page's lists
        f"/customerview/related/{10**30}/TicketView",
        f"/customerview/related/{customer.id + 1000}/TicketView",
    ):
        assert admin_client.get(path).status_code == 404, path
    assert admin_client.get("/customerview/related/abc/TicketView").status_code == 404


def test_the_edit_page_still_lists_the_related_records_with_the_form(admin_client, busy_customer):
    """Regression: the edit page shares the related-list hook with the show page and failed to render."""
    customer = busy_customer("史湘云", 2)
    response = admin_client.get(f"/customerview/edit/{customer.id}")
    assert response.status_code == 200
    assert "史湘云的报修1" in response.get_data(as_text=True)
