"""The desk finds a household by its unit as the lists print it ("1号楼-102"), and narrows the customer
list by building and unit with the 楼栋 and 房屋 filters (searchable selects), in Chromium."""

import pytest

from tests.browser.conftest import ADMIN_PASSWORD, in_app
from tests.browser.test_customer_journey import login

pytestmark = pytest.mark.browser

# two households in the demo estate's 102s: 1号楼-102 and 2号楼-102 (demo buildings are 1号楼 … 7号楼)
HOUSEHOLDS = (
    "for building, name, phone in (('1号楼', '欧阳一零二', '13700001102'), ('2号楼', '司马二零二', '13700002102')):\n"
    "    unit = db.session.query(Unit).join(Building).filter(Building.name == building, Unit.number == '102').one()\n"
    "    customer = Customer(name=name, phone=phone)\n"
    "    customer.units.append(CustomerUnit(unit=unit, relation='owner'))\n"
    "    db.session.add(customer)\n"
    "db.session.commit()\n"
)


def _list_text(page):
    return page.locator("table", has_text="电话").last.inner_text()


def test_find_a_household_by_building_and_room_and_filter_by_building(page, server, server_env):
    in_app(server_env, HOUSEHOLDS)
    login(page, server, "admin", ADMIN_PASSWORD)

    page.goto(server + "/customerview/list/")
    page.fill("#crm-quick-search", "1号楼-102")
    page.press("#crm-quick-search", "Enter")
    page.wait_for_load_state("networkidle")
    table = _list_text(page)
    assert "欧阳一零二" in table and "司马二零二" not in table

    # the 楼栋 filter: type part of the name, pick the building; the list shows that building's customers
    page.goto(server + "/customerview/list/")
    page.locator("#crm-filter-building + .select2-container").click()
    page.keyboard.type("2号楼")
    page.locator(".select2-results__option", has_text="2号楼").first.click()
    page.wait_for_load_state("networkidle")
    assert "building=" in page.url
    table = _list_text(page)
    assert "司马二零二" in table and "欧阳一零二" not in table
    assert "2号楼" in page.locator("#crm-filter-building + .select2-container").inner_text()

    # the 房屋 filter offers that building's units only
    page.locator("#crm-filter-unit + .select2-container").click()
    page.keyboard.type("102")
    option = page.locator(".select2-results__option", has_text="2号楼-102").first
    option.wait_for()
    assert "1号楼-102" not in page.locator(".select2-results").inner_text()
    option.click()
    page.wait_for_load_state("networkidle")
    assert "unit=" in page.url and "building=" in page.url
    assert "司马二零二" in _list_text(page)
    assert page.js_errors == []
