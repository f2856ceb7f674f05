"""Logging a repair in one step, in Chromium, as the work-order steps describe it: 1 log in, 2 open the
work orders, 3 fill in the ticket (with a photo), 4 choose the department and the handler, 5 submit and
read the number; the ticket is 已派单, its history says so, and the technician finds it in 我的待办."""

import re

import pytest

from tests.browser.conftest import STAFF_PASSWORD
from tests.browser.test_customer_journey import login

pytestmark = pytest.mark.browser

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
TITLE = "卫生间地漏反水（一步登记测试）"


def test_the_desk_logs_a_repair_in_one_step_and_the_technician_has_it(browser, server, page):
    # 1. log in
    login(page, server, "service", STAFF_PASSWORD)
    assert "/login" not in page.url

    # 2. the work orders, by the menu, and a new one
    page.goto(server + "/ticketview/list/")
    page.goto(server + "/ticketview/add")

    # 3. the ticket: title, type, the customer (whose units and open tickets appear), a photo
    page.fill("input[name=title]", TITLE)
    page.select_option("select[name=type]", "repair")
    page.locator("#customer + .select2-container, #customer ~ .select2").first.click()
    page.locator(".select2-results__option:not(.loading-results)").first.click()
    page.wait_for_selector("#crm-intake .crm-intake-heading")
    assert "该客户的房屋" in page.inner_text("#crm-intake") and "该客户的在办工单" in page.inner_text("#crm-intake")
    units = page.locator("#crm-intake .crm-intake-unit")
    if units.count():  # a click on one of the customer's units chooses it
        units.first.click()
        assert page.eval_on_selector("#unit", "e => e.value") == units.first.get_attribute("data-id")
    page.set_input_files("#photos", files=[{"name": "地漏.png", "mimeType": "image/png", "buffer": PNG}])

    # 4. the department and the handler
    page.select_option("#department", label="工程部", force=True)
    handler = page.locator("#assignee option", has_text="国强").first.get_attribute("value")  # tech, 刘国强
    page.select_option("#assignee", value=handler, force=True)

    # 5. submit: the number, with a link to the ticket
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    flash = page.inner_text(".alert-success")
    number = re.search(r"工单 (WO\d{12}) 已登记", flash).group(1)
    row = page.locator("tr", has_text=TITLE)
    assert "已派单" in row.inner_text() and number in row.inner_text()
    assert page.js_errors == []

    # the ticket: 已派单, the history (created, given to the technician, the photo)
    page.locator(".alert-success a", has_text="查看工单").click()
    page.wait_for_load_state("networkidle")
    assert number in page.url
    assert page.inner_text("#ticket-status") == "已派单"
    timeline = page.inner_text("#ticket-timeline")
    assert "刘国强" in timeline and "地漏.png" in timeline

    # the technician finds it in 我的待办
    tech = browser.new_context(locale="zh-CN").new_page()
    login(tech, server, "tech", STAFF_PASSWORD)
    tech.goto(server + "/mytodoview/list/")
    assert tech.locator("tr", has_text=TITLE).count() == 1

    # and the desk finds it in 我登记的工单
    page.goto(server + "/loggedbymeview/list/")
    assert page.locator("tr", has_text=TITLE).count() == 1
