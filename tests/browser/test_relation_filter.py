"""A list filter on a related record: 添加筛选条件 › 客户 gives a box that searches as one types (not a
select of every customer); choosing one and searching narrows the list, in Chromium."""

import pytest

from tests.browser.conftest import ADMIN_PASSWORD, in_app
from tests.browser.test_customer_journey import login

pytestmark = pytest.mark.browser

RENOVATION = """
unit = db.session.query(Unit).order_by(Unit.id.desc()).first()
customer = Customer(name="欧阳装修", phone="13700009901")
customer.units.append(CustomerUnit(unit=unit, relation="owner"))
db.session.add(Renovation(unit=unit, customer=customer, contractor="美家装饰",
    works_start=datetime.date(2020, 1, 1), works_end=datetime.date(2099, 12, 31)))
db.session.commit()
"""


def test_filter_a_list_by_a_customer_found_by_typing(page, server, server_env):
    in_app(server_env, "import datetime\n" + RENOVATION)
    login(page, server, "admin", ADMIN_PASSWORD)
    page.goto(server + "/renovationview/list/")
    page.locator("#accordion1 .accordion-toggle").click()  # the 搜索 panel
    page.locator("#filter_form .dropdown-toggle").click()
    page.locator("a.filter[name=customer]").click()
    page.locator("#filter_form .filters .select2-container").last.click()
    page.keyboard.type("欧阳装")
    page.locator(".select2-results__option", has_text="欧阳装修").first.click()
    page.locator("#filter_form button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert "_flt_0_customer=" in page.url
    rows = page.locator("table.table").last.inner_text()
    assert "欧阳装修" in rows
    # the filter row still names the customer after the search
    page.locator("#accordion1 .accordion-toggle").click()
    assert "欧阳装修" in page.locator("#filter_form .filters").inner_text()
    assert page.js_errors == []
