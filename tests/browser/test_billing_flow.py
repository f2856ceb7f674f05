"""Billing in Chromium: generate a month's bills, record a partial payment, watch the arrears view
change, and send a scheduled broadcast to one building."""

import datetime
import re
import threading
from decimal import Decimal

import pytest

from tests.browser.conftest import ADMIN_PASSWORD, flask_command
from tests.browser.test_customer_journey import login

pytestmark = pytest.mark.browser


def arrears_total(page, server):
    page.goto(server + "/arrears/")
    cells = page.locator("#arrears-buildings tbody tr td:last-child").all_inner_texts()
    return sum((Decimal(c.replace(",", "")) for c in cells if re.fullmatch(r"[\d,]+\.\d\d", c.strip())), Decimal(0))


def pick(page, select_id, text):
    """Open a searchable select, type like a person, and take the first match."""
    page.locator(f"#{select_id} + .select2-container, #{select_id} ~ .select2").first.click()
    page.locator(".select2-container--open .select2-search__field").fill(text)
    page.locator(".select2-results__option:not(.loading-results)", has_text=text).first.click()


def test_generate_pay_arrears_and_broadcast(page, server, server_env):
    login(page, server, "admin", ADMIN_PASSWORD)
    today = datetime.date.today()
    month = (today.replace(day=1) - datetime.timedelta(days=150)).strftime("%Y-%m")  # overdue by now

    before = arrears_total(page, server)
    page.goto(server + "/billingrunview/generate")
    page.fill("#period", month)
    page.click("#generate-bills")
    page.wait_for_selector("#crm-task")  # queued: the request did no work, the page shows the progress bar
    assert "task=" in page.url
    assert "进度" in page.inner_text("#crm-task") and "剩余时间" in page.inner_text("#crm-task")
    assert page.locator("#crm-task-cancel").inner_text().strip() == "取消"
    worker = threading.Thread(target=flask_command, args=(server_env, "crm", "tasks", "--batch", "3"))
    worker.start()  # the scheduler's job, run once, in small batches
    page.wait_for_selector("#crm-task[data-finished=done]", timeout=60000)
    worker.join()
    assert page.inner_text("#crm-task-bar").strip() == "100%"
    summary = page.inner_text("#crm-task-summary")
    created = int(re.search(r"新生成 (\d+) 张", summary).group(1))
    assert created > 0
    page.click("#crm-task-link")
    page.wait_for_load_state("networkidle")
    assert "/billingrunview/show/" in page.url
    after_generation = arrears_total(page, server)
    assert after_generation > before

    page.goto(server + "/paymentview/add")
    pick(page, "bill", month)
    page.fill("input[name=amount]", "10")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert arrears_total(page, server) == after_generation - Decimal("10.00")

    page.goto(server + "/broadcastview/add")
    page.fill("input[name=title]", "1号楼停水通知")
    page.fill("input[name=subject]", "停水通知")
    page.fill("textarea[name=body]", "{customer_name}您好：本周六9:00–12:00停水，请提前储水。")
    page.locator("#buildings + .select2-container, #buildings ~ .select2").first.click()
    page.locator(".select2-results__option", has_text="1号楼").first.click()
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    recipients = int(re.search(r"\d+", page.inner_text("#broadcast-count")).group(0))
    assert recipients > 0
    page.fill("#broadcast-at", (datetime.datetime.now() + datetime.timedelta(minutes=-1)).strftime("%Y-%m-%dT%H:%M"))
    page.click("#broadcast-schedule")
    page.wait_for_load_state("networkidle")
    assert page.inner_text("#broadcast-status") == "已安排"

    output = flask_command(server_env, "crm", "deliver")  # what the scheduler runs every minute
    assert "Broadcasts queued: 1" in output
    page.reload()
    assert page.inner_text("#broadcast-status") == "已排队"
    figures = page.inner_text("#broadcast-figures")
    assert str(recipients) in figures.splitlines()[-1]
    assert page.js_errors == []
