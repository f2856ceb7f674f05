"""REST API: every resource, the same validation and record rules as the pages."""

import pytest

from app.extensions import db
from app.models import Building, Customer, Unit
from tests import factories

RESOURCES = ["building", "unit", "customer", "tag", "department", "ticket", "communication", "bill", "payment"]


@pytest.mark.parametrize("resource", RESOURCES)
def test_every_resource_lists_and_describes_itself(admin_client, resource):
    assert admin_client.get(f"/api/v1/{resource}/").status_code == 200
    assert admin_client.get(f"/api/v1/{resource}/_info").status_code == 200


def test_openapi_spec_is_served(admin_client):
    spec = admin_client.get("/api/v1/_openapi").json
    for resource in RESOURCES:
        assert f"/api/v1/{resource}/" in spec["paths"]


def test_security_api_is_enabled_for_admins(admin_client, login):
    assert admin_client.get("/api/v1/security/users/").status_code == 200
    assert login("Service").get("/api/v1/security/users/").status_code in (401, 403)


def test_create_read_update_delete_a_building(admin_client, ctx):
    response = admin_client.post("/api/v1/building/", json={"code": "B88", "name": "8号楼", "floors": 18})
    assert response.status_code == 201, response.json
    pk = response.json["id"]
    assert admin_client.get(f"/api/v1/building/{pk}").json["result"]["name"] == "8号楼"
    assert admin_client.put(f"/api/v1/building/{pk}", json={"address": "锦绣路1号"}).status_code == 200
    assert admin_client.delete(f"/api/v1/building/{pk}").status_code == 200
    assert db.session.get(Building, pk) is None


def test_invalid_phone_is_refused_with_a_field_message(admin_client, ctx):
    response = admin_client.post("/api/v1/customer/", json={"name": "王五", "phone": "123"})
    assert response.status_code == 422
    assert "phone" in response.json["message"]
    assert db.session.query(Customer).count() == 0


def test_unknown_choice_is_refused(admin_client, ctx):
    response = admin_client.post("/api/v1/customer/", json={"name": "王五", "phone": "13812345678", "type": "vip"})
    assert response.status_code == 422
    assert db.session.query(Customer).count() == 0


def test_duplicate_unit_number_in_a_building_is_refused(admin_client, ctx):
    building = factories.building()
    factories.unit(building, number="0801")
    response = admin_client.post("/api/v1/unit/", json={"building": building.id, "number": "0801"})
    assert response.status_code == 422
    assert "number" in response.json["message"]
    assert db.session.query(Unit).count() == 1


def test_negative_amount_is_refused(admin_client, ctx):
    unit = factories.unit()
    customer = factories.customer(units=[unit])
    response = admin_client.post(
        "/api/v1/bill/",
        json={
            "customer": customer.id,
            "unit": unit.id,
            "period": "2026-11",
            "fee_type": "property",
            "amount": "-1.00",
            "due_date": "2026-12-15",
        },
    )
    assert response.status_code == 422


def test_deleting_a_building_with_units_is_refused_and_nothing_lost(admin_client, ctx):
    unit = factories.unit()
    response = admin_client.delete(f"/api/v1/building/{unit.building_id}")
    assert response.status_code == 409
    assert "units" in str(response.json["message"]) or "房屋" in str(response.json["message"])
    db.session.expire_all()
    assert db.session.get(Unit, unit.id) is not None


def test_api_page_size_is_capped(admin_client, ctx):
    for i in range(120):
        db.session.add(Building(code=f"C{i:03d}", name=f"楼{i:03d}"))
    db.session.commit()
    response = admin_client.get("/api/v1/building/?q=(page_size:5000)")
    assert response.status_code == 200
    assert len(response.json["result"]) == 100


def test_api_orders_and_quick_searches(admin_client, ctx):
    unit = factories.unit(number="3302")
    factories.customer(name="欧阳锋", phone="13512345678", units=[unit])
    factories.customer(name="黄药师", phone="13587654321")
    rison = "(filters:!((col:name,opr:crm_q,value:'3302')))"
    response = admin_client.get(f"/api/v1/customer/?q={rison}")
    assert response.status_code == 200, response.json
    assert [r["name"] for r in response.json["result"]] == ["欧阳锋"]
