"""Field levels apply wherever a model's values leave the server, at any depth, and a hidden or masked
value can never be confirmed by searching for it."""

import pytest

from app.extensions import db
from app.models import FieldPermission
from tests import factories
from tests.pages import show_page

PHONE, ID_NUMBER, EMAIL = "13812341234", "11010519491231002X", "daiyu@example.com"


def configure(app, role, resource, field, level):
    db.session.add(
        FieldPermission(role_id=app.appbuilder.sm.find_role(role).id, resource=resource, field=field, level=level)
    )
    db.session.commit()


@pytest.fixture
def customer(ctx):
    return factories.customer(name="林黛玉", phone=PHONE, id_number=ID_NUMBER, email=EMAIL)


def everything_in(response):
    return response.get_data(as_text=True)


def test_an_embedded_customer_is_levelled_like_the_customer_itself(app, login, customer):
    configure(app, "Service", "Customer", "phone", "hidden")
    configure(app, "Service", "Customer", "id_number", "masked")
    bill = factories.bill(customer_obj=customer)
    body = everything_in(login("Service").get(f"/api/v1/bill/{bill.id}"))
    assert PHONE not in body and ID_NUMBER not in body
    listing = everything_in(login("Service").get("/api/v1/bill/"))
    assert PHONE not in listing and ID_NUMBER not in listing


def test_a_technicians_ticket_hides_the_customers_hidden_phone(app, login, customer, user_id):
    configure(app, "Technician", "Customer", "phone", "hidden")
    ticket = factories.ticket(customer=customer, assignee_id=user_id("Technician"), status="assigned")
    client = login("Technician")
    assert PHONE not in everything_in(client.get(f"/api/v1/ticket/{ticket.id}"))
    assert PHONE not in everything_in(client.get("/api/v1/ticket/"))
    assert PHONE not in everything_in(show_page(client, f"/ticketview/show/{ticket.id}"))


def test_a_dotted_list_column_is_masked_by_the_related_models_level(app, login, customer, user_id):
    configure(app, "Technician", "Customer", "name", "masked")
    factories.ticket(customer=customer, assignee_id=user_id("Technician"), status="assigned")
    page = everything_in(login("Technician").get("/ticketview/list/"))
    assert "林黛玉" not in page


@pytest.mark.parametrize("level", ["hidden", "masked"])
def test_searching_a_protected_phone_answers_as_for_a_wrong_one(app, login, customer, level):
    configure(app, "Service", "Customer", "phone", level)
    client = login("Service")

    def answers(term):
        api = client.get(f"/api/v1/customer/?q=(filters:!((col:name,opr:crm_q,value:'{term}')))")
        lookup = client.get(f"/lookup/customer?q={term}")
        page = client.get(f"/customerview/list/?q={term}")
        return (
            api.status_code,
            api.get_json().get("count"),
            [r["id"] for r in lookup.get_json()["results"]],
            "林黛玉" in page.get_data(as_text=True),
        )

    assert answers(PHONE) == answers("13999999999")
    assert answers("林黛玉")[1:] == (1, [customer.id], True)  # the name is still searched


@pytest.mark.parametrize("column,true_value,wrong_value", [("email", "daiyu", "nobody"), ("id_number", "1101", "9999")])
def test_a_masked_field_takes_no_filter(app, login, customer, column, true_value, wrong_value):
    configure(app, "Service", "Customer", column, "masked")
    client = login("Service")

    def answer(value):
        response = client.get(f"/api/v1/customer/?q=(filters:!((col:{column},opr:ct,value:'{value}')))")
        return response.status_code, response.get_json()

    assert answer(true_value) == answer(wrong_value)
    assert answer(true_value)[0] == 400
    page = client.get(f"/customerview/list/?_flt_2_{column}={true_value}").get_data(as_text=True)
    other = client.get(f"/customerview/list/?_flt_2_{column}={wrong_value}").get_data(as_text=True)
    assert ("林黛玉" in page) == ("林黛玉" in other)


def test_technicians_do_not_read_bills_embedded_anywhere(app, login, customer, user_id):
    bill = factories.bill(customer_obj=customer, amount=__import__("decimal").Decimal("4321.00"))
    ticket = factories.ticket(customer=customer, assignee_id=user_id("Technician"), status="assigned")
    client = login("Technician")
    assert client.get(f"/api/v1/bill/{bill.id}").status_code in (401, 403)
    body = everything_in(client.get(f"/api/v1/customer/{customer.id}"))
    assert "4321" not in body
    assert "4321" not in everything_in(client.get(f"/api/v1/ticket/{ticket.id}"))


def test_technicians_see_no_bill_payment_or_communication_on_customer_pages(app, login, customer, user_id):
    from decimal import Decimal

    from app.models import Communication, Payment

    unit = factories.unit()
    bill = factories.bill(customer_obj=customer, unit_obj=unit, amount=Decimal("4321.00"))
    db.session.add_all(
        [
            Payment(bill=bill, amount=Decimal("1234.00"), method="cash"),
            Communication(customer=customer, channel="phone", summary="业主反映邻居噪音扰民"),
        ]
    )
    db.session.commit()
    client = login("Technician")
    for path in (
        f"/customerview/show/{customer.id}",
        f"/customerview/timeline/{customer.id}",
        f"/unitview/show/{unit.id}",
    ):
        page = show_page(client, path).get_data(as_text=True)
        assert "4,321.00" not in page and "4321" not in page, path
        assert "1,234.00" not in page and "噪音扰民" not in page, path
    # the desk, who may read them, still sees them
    desk = login("Service").get(f"/customerview/timeline/{customer.id}").get_data(as_text=True)
    assert "4,321.00" in desk and "噪音扰民" in desk


def test_the_care_reminders_print_phones_through_the_field_levels(app, login, ctx, today):
    birthday = (
        today.replace(year=1960) if not (today.month == 2 and today.day == 29) else today.replace(year=1960, day=28)
    )
    factories.customer(name="寿星", phone=PHONE, birthday=birthday)
    configure(app, "Service", "Customer", "phone", "hidden")
    page = login("Service").get("/care/").get_data(as_text=True)
    assert "寿星" in page and PHONE not in page
    configure(app, "Supervisor", "Customer", "phone", "masked")
    page = login("Supervisor").get("/care/").get_data(as_text=True)
    assert "寿星" in page and PHONE not in page and "138****1234" in page
