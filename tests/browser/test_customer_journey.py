"""A service-desk journey in Chromium: log in, add a customer with a tag, find them by phone."""

import pytest

from tests.browser.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.browser


def login(page, server, username, password):
    page.goto(server + "/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_add_customer_with_tag_and_find_by_phone(page, server):
    login(page, server, "admin", ADMIN_PASSWORD)
    assert "/login" not in page.url

    page.goto(server + "/tagview/add")
    page.fill("input[name=name]", "老年客户")
    page.fill("input[name=color]", "#cc3333")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")

    page.goto(server + "/customerview/add")
    assert "新增客户" in page.content()
    page.fill("input[name=name]", "陈美玲")
    page.fill("input[name=phone]", "13912345678")
    # FAB renders tags as a Select2 box: type and pick like a person would
    page.locator("select#tags + .select2-container, #tags ~ .select2").first.click()
    page.keyboard.type("老年")
    page.locator(".select2-results__option", has_text="老年客户").first.click()
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")

    page.goto(server + "/customerview/list/")
    page.fill("#crm-quick-search", "13912345678")
    page.press("#crm-quick-search", "Enter")
    page.wait_for_load_state("networkidle")
    table = page.locator("table", has_text="13912345678").last.inner_text()
    assert "陈美玲" in table and "老年客户" in table
    assert page.js_errors == []
