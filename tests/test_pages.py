"""Generated pages: every model has list/add/show pages; bad input changes nothing."""

import re
from decimal import Decimal

import pytest

from app.extensions import db
from app.models import Building, Customer, Tag, Unit
from tests import factories
from tests.pages import show_page

PAGES = [
    "customerview",
    "residenceview",
    "communicationview",
    "tagview",
    "buildingview",
    "unitview",
    "ticketview",
    "ticketeventview",
    "billview",
    "paymentview",
    "departmentview",
    "staffprofileview",
    "dispatchruleview",
    "dutyshiftview",
    "slapolicyview",
    "mytodoview",
    "pendingpoolview",
]


@pytest.mark.parametrize("view", PAGES)
def test_every_model_has_a_list_page(admin_client, view):
    assert admin_client.get(f"/{view}/list/").status_code == 200


@pytest.mark.parametrize("view", [p for p in PAGES if p != "ticketeventview"])
def test_every_editable_model_has_an_add_form(admin_client, view):
    assert admin_client.get(f"/{view}/add").status_code == 200


def test_show_page_lists_a_customers_units_tickets_communications_and_bills(admin_client, ctx):
    unit = factories.unit(number="1203")
    customer = factories.customer(name="李四", units=[unit])
    factories.ticket(customer=customer, unit=unit, title="电梯异响")
    factories.bill(customer_obj=customer, unit_obj=unit)
    page = show_page(admin_client, f"/customerview/show/{customer.id}").get_data(as_text=True)
    assert "李四" in page and "1203" in page and "电梯异响" in page and "300.00" in page


def test_adding_a_customer_with_a_tag(admin_client, ctx):
    tag = factories.tag(name="老年客户")
    response = admin_client.post(
        "/customerview/add",
        data={
            "name": "王五",
            "phone": "13812345678",
            "gender": "male",
            "type": "owner",
            "status": "active",
            "preferred_channel": "sms",
            "tags": [str(tag.id)],
        },
    )
    assert response.status_code == 302
    customer = db.session.query(Customer).filter_by(phone="13812345678").one()
    assert customer.name == "王五" and [t.name for t in customer.tags] == ["老年客户"]


@pytest.mark.parametrize(
    "field,value", [("phone", "12345"), ("email", "not-an-email"), ("id_number", "110101199001011234")]
)
def test_invalid_customer_field_is_refused_and_nothing_saved(admin_client, ctx, field, value):
    data = {
        "name": "赵六",
        "phone": "13812345679",
        "gender": "male",
        "type": "owner",
        "status": "active",
        "preferred_channel": "sms",
    }
    data[field] = value
    response = admin_client.post("/customerview/add", data=data)
    assert response.status_code == 200  # the form again, with the error
    assert "has-error" in response.get_data(as_text=True) or "help-block" in response.get_data(as_text=True)
    assert db.session.query(Customer).count() == 0


def test_duplicate_unit_number_in_one_building_is_a_field_error(admin_client, ctx):
    building = factories.building()
    factories.unit(building, number="0801")
    response = admin_client.post(
        "/unitview/add",
        data={"building": str(building.id), "number": "0801", "area": "80", "use": "residential", "status": "vacant"},
    )
    assert response.status_code == 200
    assert db.session.query(Unit).count() == 1
    other = factories.building()
    response = admin_client.post(
        "/unitview/add",
        data={"building": str(other.id), "number": "0801", "area": "80", "use": "residential", "status": "vacant"},
    )
    assert response.status_code == 302
    assert db.session.query(Unit).count() == 2


def test_negative_area_is_refused(admin_client, ctx):
    building = factories.building()
    response = admin_client.post(
        "/unitview/add",
        data={"building": str(building.id), "number": "0101", "area": "-5", "use": "residential", "status": "vacant"},
    )
    assert response.status_code == 200
    assert db.session.query(Unit).count() == 0


def test_deleting_a_building_with_units_is_refused(admin_client, ctx):
    unit = factories.unit()
    response = admin_client.post(f"/buildingview/delete/{unit.building_id}", follow_redirects=True)
    assert "该楼栋下还有房屋" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Building, unit.building_id) is not None


def test_deleting_a_customer_with_tickets_is_refused(admin_client, ctx):
    customer = factories.customer()
    factories.ticket(customer=customer)
    admin_client.post(f"/customerview/delete/{customer.id}")
    db.session.expire_all()
    assert db.session.get(Customer, customer.id) is not None


def test_deleting_a_customer_without_history_works(admin_client, ctx):
    customer = factories.customer()
    admin_client.post(f"/customerview/delete/{customer.id}")
    db.session.expire_all()
    assert db.session.get(Customer, customer.id) is None


def test_get_cannot_delete_and_posts_need_a_csrf_token(app, admin_client, ctx):
    tag = factories.tag()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        admin_client.get(f"/tagview/delete/{tag.id}")
        assert db.session.get(Tag, tag.id) is not None
        response = admin_client.post(f"/tagview/delete/{tag.id}")
        assert response.status_code == 400
        db.session.expire_all()
        assert db.session.get(Tag, tag.id) is not None
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_page_size_is_capped(admin_client, ctx):
    for i in range(105):
        db.session.add(Tag(name=f"t{i:03d}", color="#000000"))
    db.session.commit()
    page = admin_client.get("/tagview/list/?psize_TagView=20000").get_data(as_text=True)
    assert len(set(re.findall(r"/tagview/show/(\d+)", page))) == 100


@pytest.mark.parametrize("column", ["building", "number", "area", "status"])
def test_units_can_be_ordered_by_any_listed_column_including_relations(admin_client, ctx, column):
    b2 = factories.building(name="Z栋")
    b1 = factories.building(name="A栋")
    factories.unit(b2, number="0001")
    factories.unit(b1, number="0002")
    response = admin_client.get(f"/unitview/list/?_oc_UnitView={column}&_od_UnitView=asc")
    assert response.status_code == 200
    if column == "building":
        page = response.get_data(as_text=True)
        assert page.index("A栋") < page.index("Z栋")


def test_unknown_order_column_is_ignored(admin_client):
    assert admin_client.get("/unitview/list/?_oc_UnitView=nope&_od_UnitView=asc").status_code == 200


@pytest.mark.parametrize("term", ["欧阳", "13700001111", "2701"])
def test_customers_are_found_by_name_phone_or_room_number(admin_client, ctx, term):
    unit = factories.unit(number="2701")
    factories.customer(name="欧阳娜娜", phone="13700001111", units=[unit])
    factories.customer(name="路人甲", phone="13900002222")
    page = admin_client.get(f"/customerview/list/?q={term}").get_data(as_text=True)
    assert "欧阳娜娜" in page and "路人甲" not in page


def test_lookup_offers_matching_customers_only_to_who_may_list_them(login, ctx):
    factories.customer(name="孙悟空", phone="13611112222")
    factories.customer(name="猪八戒", phone="13633334444")
    response = login("Service").get("/lookup/customer?q=悟空")
    assert [r["text"] for r in response.json["results"]] == ["孙悟空 (13611112222)"]
    assert login("Technician").get("/lookup/bill?q=").status_code == 403


def test_ticket_form_uses_searchable_selects_for_large_tables(admin_client):
    page = admin_client.get("/ticketview/add").get_data(as_text=True)
    assert re.search(r'<select[^>]*name="customer"[^>]*crm-ajax-select', page)
    assert re.search(r'<select[^>]*name="unit"[^>]*crm-ajax-select', page)


def test_money_and_choices_are_shown_with_labels(admin_client, ctx):
    factories.bill(amount=Decimal("1234.50"))
    page = admin_client.get("/billview/list/").get_data(as_text=True)
    assert "1,234.50" in page
    assert "物业费" in page or "Property fee" in page


def test_list_shows_related_records_by_name(admin_client, ctx):
    unit = factories.unit(number="0606")
    factories.customer(name="周芷若", tags=[factories.tag(name="VIP"), factories.tag(name="有宠物")], units=[unit])
    page = admin_client.get("/customerview/list/").get_data(as_text=True)
    assert "VIP、有宠物" in page and "0606" in page
    assert "object at 0x" not in page


def test_choice_selects_preselect_the_default_and_offer_no_blank_for_required_columns(admin_client):
    page = admin_client.get("/ticketview/add").get_data(as_text=True)
    select = re.search(r'<select[^>]*name="type".*?</select>', page, re.S).group(0)
    assert 'value="repair" selected' in select or 'selected value="repair"' in select
    assert 'value=""' not in select


def test_ticket_added_with_defaults_from_the_form(admin_client, ctx):
    from app.models import Ticket

    response = admin_client.post(
        "/ticketview/add", data={"title": "电梯困人", "type": "repair", "priority": "high", "channel": "phone"}
    )
    assert response.status_code == 302
    ticket = db.session.query(Ticket).one()
    assert (ticket.title, ticket.status, ticket.priority) == ("电梯困人", "new", "high")


def test_empty_relations_show_blank_and_staff_names_family_name_first(admin_client, ctx, user_id):
    factories.ticket(title="无人处理")
    page = admin_client.get("/ticketview/list/").get_data(as_text=True)
    assert ">None<" not in page.replace(" ", "").replace("\n", "")


def test_service_levels_are_edited_in_the_ui_and_used_for_new_tickets(admin_client, ctx):
    from app.models import SlaPolicy

    db.session.query(SlaPolicy).filter_by(ticket_type="inquiry", priority="low").delete()  # seeded by init
    db.session.commit()
    count = db.session.query(SlaPolicy).count()
    response = admin_client.post(
        "/slapolicyview/add",
        data={"ticket_type": "inquiry", "priority": "low", "response_minutes": "30", "resolution_minutes": "120"},
    )
    assert response.status_code == 302
    assert db.session.query(SlaPolicy).filter_by(ticket_type="inquiry", priority="low").one().resolution_minutes == 120
    duplicate = admin_client.post(
        "/slapolicyview/add",
        data={"ticket_type": "inquiry", "priority": "low", "response_minutes": "10", "resolution_minutes": "20"},
    )
    assert duplicate.status_code == 200 and db.session.query(SlaPolicy).count() == count + 1
    ticket = factories.ticket(type="inquiry", priority="low")
    assert (ticket.resolution_due - ticket.created_at).total_seconds() == 120 * 60


def test_duplicate_bill_for_unit_period_and_fee_is_a_field_error(admin_client, ctx):
    from app.models import Bill

    bill = factories.bill(period="2026-10", fee_type="property")
    response = admin_client.post(
        "/billview/add",
        data={
            "customer": str(bill.customer_id),
            "unit": str(bill.unit_id),
            "period": "2026-10",
            "fee_type": "property",
            "amount": "10",
            "due_date": "2026-11-15",
        },
    )
    assert response.status_code == 200
    assert "该房屋在此账期已有同一费用类型的账单" in response.get_data(as_text=True)
    assert db.session.query(Bill).count() == 1


def test_an_id_number_with_an_impossible_birth_date_is_refused():
    from app.core.validation import check_email, check_id_number

    assert check_id_number("11010519491231002X") is None
    # the right check digit, but born on 31 February 1949
    assert check_id_number("110105194902310026") is not None
    assert check_id_number("11010519491231002") is not None
    assert check_email("daiyu@example.com") is None
    assert check_email("daiyu@@example.com") is not None and check_email("daiyu@example") is not None
