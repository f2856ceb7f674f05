"""The whole service flow in Chromium: the desk logs a repair, it is dispatched to the technician,
who starts and resolves it from My to-do; the customer rates it through the link; the manager
sees it in staff performance."""

import re

import pytest

from tests.browser.conftest import STAFF_PASSWORD, in_app
from tests.browser.test_customer_journey import login

pytestmark = pytest.mark.browser

# the customer's completion notice in the outbox: the one place the rating link goes
LATEST_COMPLETION = (
    "message = db.session.query(OutboxMessage).filter(OutboxMessage.template_key == 'completion_notice')"
    ".order_by(OutboxMessage.id.desc()).first()\n"
    "print(message.body)\n"
)


def performance_row(page, server, name):
    page.goto(server + "/performance/")
    row = page.locator("#performance-people tr", has_text=name)
    return row.inner_text() if row.count() else ""


def test_repair_from_intake_to_rating_and_performance(browser, server, server_env, page):
    manager = browser.new_context(locale="zh-CN").new_page()
    login(manager, server, "manager", STAFF_PASSWORD)
    before = performance_row(manager, server, "刘国强")
    handled_before = int(before.split("\t")[1]) if before else 0

    # 1. the service desk logs a repair for a customer
    login(page, server, "service", STAFF_PASSWORD)
    page.goto(server + "/ticketview/add")
    page.fill("input[name=title]", "厨房水槽下水管漏水（浏览器测试）")
    page.select_option("select[name=type]", "repair")
    page.locator("#customer + .select2-container, #customer ~ .select2").first.click()
    page.locator(".select2-results__option:not(.loading-results)").first.click()
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.js_errors == []

    # 2. it was dispatched to the technician: it is in his to-do, and his bell shows a message
    tech = browser.new_context(locale="zh-CN").new_page()
    login(tech, server, "tech", STAFF_PASSWORD)
    tech.goto(server + "/mytodoview/list/")
    tech.wait_for_selector("#crm-inbox-count")
    row = tech.locator("tr", has_text="厨房水槽下水管漏水（浏览器测试）")
    assert row.count() == 1
    tech.wait_for_function("document.getElementById('crm-inbox-count').textContent !== ''")
    assert int(tech.inner_text("#crm-inbox-count")) >= 1

    # 3. he opens it, starts, and resolves it with the result
    row.locator("a[href^='/ticketwork/']").first.click()
    tech.wait_for_load_state("networkidle")
    tech.click("#ticket-start")
    tech.wait_for_load_state("networkidle")
    assert tech.inner_text("#ticket-status") == "处理中"
    tech.fill("#resolution", "更换下水管接头，试水无渗漏")
    tech.click("#ticket-resolve")
    tech.wait_for_load_state("networkidle")
    assert tech.inner_text("#ticket-status") == "已办结"
    timeline = tech.inner_text("#ticket-timeline")
    # the handler sees that the customer got the rating link, never the link itself
    assert "评价链接已通过" in timeline and "/rate/" not in timeline
    link = re.search(
        r"https?://\S+/rate/\S+",
        in_app(server_env, LATEST_COMPLETION),
    ).group(0)

    # 4. the customer rates it through the personal link, without logging in
    customer = browser.new_context(locale="zh-CN").new_page()
    customer.goto(server + link[link.index("/rate/") :])
    customer.check("input[name=stars][value='5']")
    customer.fill("#comment", "师傅很专业，处理及时")
    customer.click("#rating-form button[type=submit]")
    customer.wait_for_load_state("networkidle")
    assert "感谢" in customer.inner_text("#rating-message")
    customer.goto(server + link[link.index("/rate/") :])  # the link works once
    assert "已经评价" in customer.inner_text("#rating-message")

    # 5. the manager sees it in staff performance
    after = performance_row(manager, server, "刘国强")
    cells = after.split("\t")
    assert int(cells[1]) == handled_before + 1
    assert "5" in cells[5]
    for p in (manager, tech, customer):
        p.context.close()
