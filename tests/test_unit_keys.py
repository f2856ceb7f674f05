"""楼栋+房号 as one key: "1号楼-102" as the lists print a unit finds that unit's records (search box,
API quick search, searchable selects), and lists narrow by a building or a unit (楼栋 / 房屋 filters)."""

import pytest

from app.extensions import db
from app.models import Customer, FieldPermission, Ticket, Unit
from app.property.units import UnitKey, parse_unit_key, rows_of_units, unit_key_units, unit_path
from tests import factories

# ---------------------------------------------------------------- the parser


@pytest.mark.parametrize(
    "term, key",
    [
        ("1号楼-102", UnitKey("1号楼", "102")),  # as the lists print a unit (demo data: 1号楼 … 7号楼)
        ("1-102", UnitKey("1", "102")),
        ("1号楼 102", UnitKey("1号楼", "102")),
        ("1号楼102", UnitKey("1号楼", "102")),
        ("1号楼－102", UnitKey("1号楼", "102")),  # a full-width dash from a Chinese input method
        ("１号楼-１０２", UnitKey("1号楼", "102")),  # full-width digits
        ("1#102", UnitKey("1", "102")),
        ("1栋102室", UnitKey("1栋", "102")),
        ("  1号楼 - 102 ", UnitKey("1号楼", "102")),
        ("B01-102", UnitKey("B01", "102")),  # the building's code (demo: B01…, generated: G0001…)
        ("G0001-305", UnitKey("G0001", "305")),
        ("锦绣苑1号楼-102", UnitKey("锦绣苑1号楼", "102")),  # a generated estate's building
        ("商业街A座-S101", UnitKey("商业街A座", "S101")),  # the demo's shops
        ("商业街A座S101", UnitKey("商业街A座", "S101")),
        ("1号楼-P-001", UnitKey("1号楼", "P-001")),  # a parking space
    ],
)
def test_a_unit_key_is_read_in_each_way_staff_type_it(term, key):
    assert parse_unit_key(term) == key


@pytest.mark.parametrize(
    "term",
    [
        "王",
        "王小明",
        "138",
        "13812345678",
        "102",
        "1号楼",
        "",
        "   ",
        None,
        "2026-11",
        "2026-11-23",
        "P-001",
        "王 138",
        "WO20261123-0001",
        "厨房水管漏水",
        "1号楼-",
        "-102",
        "x" * 80,
    ],
)
def test_a_term_that_names_no_unit_is_not_a_unit_key(term):
    assert parse_unit_key(term) is None
    assert unit_key_units(term) is None


def test_each_model_reaches_its_unit_along_its_relations():
    from app.models import Bill, Communication, CustomerUnit, Payment, Tag, TicketRating

    assert unit_path(Unit) == ""
    assert unit_path(Ticket) == "unit" and unit_path(Bill) == "unit" and unit_path(CustomerUnit) == "unit"
    assert unit_path(Customer) == "units.unit"
    assert unit_path(Payment) == "bill.unit" and unit_path(TicketRating) == "ticket.unit"
    assert unit_path(Communication) == "customer.units.unit"
    assert unit_path(Tag) is None and rows_of_units(Tag, [1]) is None


@pytest.fixture
def estate(ctx):
    """Three 102s (1号楼, 11号楼, 2号楼) and 1号楼-103, each with a resident, a ticket and a bill."""
    one = factories.building(name="1号楼", code="B01")
    eleven = factories.building(name="11号楼", code="B11")
    two = factories.building(name="2号楼", code="B02")
    units = {
        "1号楼-102": factories.unit(one, number="102"),
        "1号楼-103": factories.unit(one, number="103"),
        "11号楼-102": factories.unit(eleven, number="102"),
        "2号楼-102": factories.unit(two, number="102"),
    }
    people = {"1号楼-102": "赵一零二", "1号楼-103": "钱一零三", "11号楼-102": "孙十一", "2号楼-102": "李二号"}
    customers = {}
    for key, unit in units.items():
        customer = factories.customer(name=people[key], units=[unit])
        factories.ticket(title=f"{people[key]}的报修", customer=customer, unit=unit)
        factories.bill(customer_obj=customer, unit_obj=unit)
        customers[key] = customer
    return {"buildings": {"1号楼": one, "11号楼": eleven, "2号楼": two}, "units": units, "customers": customers}


def _units_named(term):
    return sorted(str(u) for u in db.session.query(Unit).filter(Unit.id.in_(unit_key_units(term))))


def test_a_unit_key_finds_that_unit_and_no_other_buildings_102(estate):
    for term in ("1号楼-102", "1-102", "1号楼 102", "1号楼102", "1栋102", "B01-102", "b01-102"):
        assert _units_named(term) == ["1号楼-102"], term
    assert _units_named("11号楼-102") == ["11号楼-102"]
    assert _units_named("2-102") == ["2号楼-102"]
    assert _units_named("1号楼-104") == []


def test_a_short_building_number_finds_that_number_in_every_estate(ctx):
    jinxiu = factories.building(name="锦绣苑1号楼", code="G0001")
    cuihu = factories.building(name="翠湖苑1号楼", code="G0002")
    other = factories.building(name="锦绣苑11号楼", code="G0017")
    for building in (jinxiu, cuihu, other):
        factories.unit(building, number="102")
    assert _units_named("锦绣苑1号楼-102") == ["锦绣苑1号楼-102"]
    assert _units_named("1号楼-102") == ["翠湖苑1号楼-102", "锦绣苑1号楼-102"]
    assert _units_named("G0017-102") == ["锦绣苑11号楼-102"]


# ---------------------------------------------------------------- the list search box and the API


def _names(page, estate):
    return sorted(name for name in (c.name for c in estate["customers"].values()) if name in page)


def test_the_customer_list_search_finds_the_units_residents_only(admin_client, estate):
    page = admin_client.get("/customerview/list/?q=1号楼-102").get_data(as_text=True)
    assert _names(page, estate) == ["赵一零二"]
    page = admin_client.get("/customerview/list/?q=102").get_data(as_text=True)  # the number alone: every 102
    assert _names(page, estate) == ["孙十一", "李二号", "赵一零二"]
    page = admin_client.get("/customerview/list/?q=赵一零二").get_data(as_text=True)  # names still work
    assert _names(page, estate) == ["赵一零二"]


@pytest.mark.parametrize("view", ["unitview", "ticketview", "billview"])
def test_the_unit_ticket_and_bill_lists_find_a_unit_key(admin_client, estate, view):
    page = admin_client.get(f"/{view}/list/?q=1号楼-102").get_data(as_text=True)
    listed = page.count(f"/{view}/show/")
    assert listed == 1, page
    if view != "unitview":
        assert "赵一零二" in page and "孙十一" not in page


def test_the_export_follows_a_unit_key_search(admin_client, estate):
    from io import BytesIO

    from openpyxl import load_workbook

    response = admin_client.get("/customerview/export/?q=1号楼-102")
    assert response.status_code == 200
    sheet = load_workbook(BytesIO(response.data)).active
    names = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert names == ["赵一零二"]


@pytest.mark.parametrize(
    "resource, field, expected",
    [
        ("customer", "name", ["赵一零二"]),
        ("unit", "number", ["102"]),
        ("ticket", "title", ["赵一零二的报修"]),
        ("bill", "customer.name", ["赵一零二"]),
    ],
)
def test_the_api_quick_search_finds_a_unit_key(admin_client, estate, resource, field, expected):
    column = {"customer": "name", "unit": "number", "ticket": "number", "bill": "period", "communication": "summary"}[
        resource
    ]
    response = admin_client.get(f"/api/v1/{resource}/?q=(filters:!((col:{column},opr:crm_q,value:'1号楼-102')))")
    assert response.status_code == 200, response.json
    result = response.json["result"]
    values = [row[field.split(".")[0]][field.split(".")[1]] if "." in field else row[field] for row in result]
    assert values == expected


def test_a_communication_of_a_resident_is_found_by_the_unit_key(admin_client, estate):
    from app.models import Communication

    db.session.add_all(
        [
            Communication(customer=estate["customers"]["1号楼-102"], channel="phone", summary="来电咨询"),
            Communication(customer=estate["customers"]["2号楼-102"], channel="phone", summary="来电投诉"),
        ]
    )
    db.session.commit()
    response = admin_client.get("/api/v1/communication/?q=(filters:!((col:summary,opr:crm_q,value:'1号楼-102')))")
    assert [row["summary"] for row in response.json["result"]] == ["来电咨询"]


def test_a_hidden_unit_is_not_searched_by_its_key(app, login, estate):
    """A role that may not see a ticket's unit cannot find out which tickets belong to 1号楼-102."""
    db.session.add(
        FieldPermission(
            role_id=app.appbuilder.sm.find_role("Service").id, resource="Ticket", field="unit", level="hidden"
        )
    )
    db.session.commit()
    client = login("Service")
    page = client.get("/ticketview/list/?q=1号楼-102").get_data(as_text=True)
    assert "/ticketview/show/" not in page
    unit = estate["units"]["1号楼-102"]
    page = client.get(f"/ticketview/list/?unit={unit.id}").get_data(as_text=True)
    assert page.count("/ticketview/show/") == 4  # the filter is ignored: every ticket, as without it
    assert 'id="crm-unit-filters"' not in page
    customers = client.get("/customerview/list/?q=1号楼-102").get_data(as_text=True)
    assert "赵一零二" in customers and "孙十一" not in customers  # the customer's units are still searchable


# ---------------------------------------------------------------- the searchable selects


def _lookup(client, resource, term, **args):
    response = client.get(f"/lookup/{resource}", query_string={"q": term, **args})
    assert response.status_code == 200
    return [row["text"] for row in response.get_json()["results"]]


def test_the_unit_and_customer_pickers_understand_a_unit_key(admin_client, estate):
    assert _lookup(admin_client, "unit", "1号楼-102") == ["1号楼-102"]
    assert _lookup(admin_client, "unit", "1-102") == ["1号楼-102"]
    assert [t.split(" ")[0] for t in _lookup(admin_client, "customer", "1号楼-102")] == ["赵一零二"]
    assert len(_lookup(admin_client, "unit", "102")) == 3  # the number alone: every building's 102


def test_the_building_picker_searches_by_name_and_code_and_the_unit_picker_by_building(admin_client, estate):
    assert sorted(_lookup(admin_client, "building", "1号楼")) == ["11号楼", "1号楼"]
    assert _lookup(admin_client, "building", "B02") == ["2号楼"]
    one = estate["buildings"]["1号楼"]
    assert sorted(_lookup(admin_client, "unit", "", building_id=one.id)) == ["1号楼-102", "1号楼-103"]


# ---------------------------------------------------------------- the 楼栋 and 房屋 filters


@pytest.mark.parametrize("view", ["customerview", "unitview", "ticketview", "billview"])
def test_the_lists_narrow_by_building_and_by_unit(admin_client, estate, view):
    one = estate["buildings"]["1号楼"]
    page = admin_client.get(f"/{view}/list/").get_data(as_text=True)
    assert 'id="crm-filter-building"' in page and 'id="crm-filter-unit"' in page
    assert "/lookup/building" in page and "楼栋" in page and "房屋" in page
    assert page.count(f"/{view}/show/") == 4
    page = admin_client.get(f"/{view}/list/?building={one.id}").get_data(as_text=True)
    assert page.count(f"/{view}/show/") == 2  # 1号楼-102 and 1号楼-103, not 11号楼
    assert f'<option value="{one.id}" selected>1号楼</option>' in page
    unit = estate["units"]["1号楼-103"]
    page = admin_client.get(f"/{view}/list/?building={one.id}&unit={unit.id}").get_data(as_text=True)
    assert page.count(f"/{view}/show/") == 1
    assert f'<option value="{unit.id}" selected>1号楼-103</option>' in page
    if view != "unitview":
        assert "钱一零三" in page


def test_the_building_filter_pages_and_exports_the_same_records(admin_client, estate):
    from io import BytesIO

    from openpyxl import load_workbook

    two = estate["buildings"]["2号楼"]
    response = admin_client.get(f"/customerview/export/?building={two.id}")
    names = [row[0] for row in load_workbook(BytesIO(response.data)).active.iter_rows(min_row=2, values_only=True)]
    assert names == ["李二号"]


def test_the_filters_keep_row_scope(login, two_departments, estate):
    """A technician narrowing tickets to a unit sees only the tickets of their scope in it."""
    mine = two_departments[0]
    unit = estate["units"]["1号楼-102"]
    mine.unit_id = unit.id
    db.session.commit()
    client = login("Technician")
    page = client.get(f"/ticketview/list/?unit={unit.id}").get_data(as_text=True)
    assert "我的工单" in page and "赵一零二的报修" not in page
    page = client.get("/ticketview/list/?q=1号楼-102").get_data(as_text=True)
    assert "我的工单" in page and "赵一零二的报修" not in page


def test_a_malformed_filter_is_ignored(admin_client, estate):
    for args in ("building=abc", "unit=-1", "building=99999999999", "unit=1%27"):
        response = admin_client.get(f"/customerview/list/?{args}")
        assert response.status_code == 200
        assert response.get_data(as_text=True).count("/customerview/show/") == 4


def _api_values(client, resource, column, operator, value, field):
    response = client.get(f"/api/v1/{resource}/?q=(filters:!((col:{column},opr:{operator},value:{value})))")
    assert response.status_code == 200, response.json
    return sorted(row[field] for row in response.json["result"])


def test_the_api_narrows_by_building_and_by_unit(admin_client, estate):
    one, unit = estate["buildings"]["1号楼"], estate["units"]["1号楼-103"]
    assert _api_values(admin_client, "customer", "name", "crm_building", one.id, "name") == ["赵一零二", "钱一零三"]
    assert _api_values(admin_client, "ticket", "number", "crm_unit", unit.id, "title") == ["钱一零三的报修"]
    assert _api_values(admin_client, "unit", "number", "crm_building", one.id, "number") == ["102", "103"]
    assert len(_api_values(admin_client, "bill", "period", "crm_building", one.id, "id")) == 2
    assert _api_values(admin_client, "customer", "name", "crm_unit", "'abc'", "name") == []


def test_the_api_does_not_narrow_by_a_hidden_unit(app, login, estate):
    db.session.add(
        FieldPermission(
            role_id=app.appbuilder.sm.find_role("Service").id, resource="Ticket", field="unit", level="hidden"
        )
    )
    db.session.commit()
    unit = estate["units"]["1号楼-103"]
    assert _api_values(login("Service"), "ticket", "number", "crm_unit", unit.id, "title") == []
