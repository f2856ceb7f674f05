"""Dates in Chromium as the staff type them: a contract's days and a ticket's deadline are typed, the
box is left, the record is saved and shows what was typed; the calendar that opens speaks Chinese."""

import re
import uuid

import pytest

from tests.browser.conftest import ADMIN_PASSWORD
from tests.browser.test_customer_journey import login

pytestmark = pytest.mark.browser

ENGLISH = re.compile(
    r"\b(Su|Mo|Tu|We|Th|Fr|Sa|January|February|March|April|June|July|August|September|"
    r"October|November|December|Today|Clear)\b"
)


def type_into(page, selector, text):
    """Click the box, type like a person, and leave it with Tab."""
    page.click(selector)
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.keyboard.press("Tab")


def test_typed_dates_and_times_stick_and_the_calendar_is_chinese(page, server):
    login(page, server, "admin", ADMIN_PASSWORD)
    tag = uuid.uuid4().hex[:6]  # the records of this run, whatever else the database holds

    page.goto(server + "/contractview/add")
    page.fill("input[name=number]", f"HT-{tag}")
    page.fill("input[name=title]", "临街商铺租赁")
    page.fill("input[name=amount]", "6800")
    page.locator("#customer + .select2-container, #customer ~ .select2").first.click()  # any customer
    page.locator(".select2-container--open .select2-results__option:not(.loading-results)").first.click()
    page.click("#start_date")
    calendar = page.locator(".air-datepicker.-active-")
    calendar.wait_for(state="visible")
    page.keyboard.type("2026-11-26")
    title = re.sub(r"\s", "", calendar.locator(".air-datepicker-nav--title").inner_text())
    assert title == "2026年十一月", title  # it follows the typing, in Chinese
    assert not ENGLISH.search(calendar.inner_text()), calendar.inner_text()
    assert "日" in calendar.locator(".air-datepicker-body--day-names").inner_text()
    page.keyboard.press("Tab")
    assert page.input_value("#start_date") == "2026-11-26"  # left alone, not emptied
    type_into(page, "#end_date", "2027/11/25")
    assert page.input_value("#end_date") == "2027/11/25"
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "该字段是必填字段" not in page.content()
    assert not page.locator(".alert-danger").count()
    page.goto(server + "/contractview/list/")
    row = page.locator("tr", has_text=f"HT-{tag}")
    assert "2026-11-26" in row.inner_text() and "2027-11-25" in row.inner_text()

    page.goto(server + "/ticketview/add")
    page.fill("input[name=title]", f"地库照明不亮{tag}")
    type_into(page, "#deadline", "2026-12-01 18:00:00")
    assert page.input_value("#deadline") == "2026-12-01 18:00:00"
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto(server + "/ticketview/list/")
    row = page.locator("tr", has_text=f"地库照明不亮{tag}")
    assert "2026-12-01 18:00" in row.inner_text()

    # picking with the mouse keeps the time of day: the day changes, 18:00 stays
    page.goto(server + "/ticketview/add")
    page.fill("input[name=title]", f"楼道灯闪烁{tag}")
    day = r"^\s*{}\s*$"
    page.click("#deadline")
    page.keyboard.type("2026/12/01 18:00")  # typed, then a day clicked without leaving the box
    page.locator(
        ".air-datepicker.-active- .air-datepicker-cell.-day-:not(.-other-month-)", has_text=re.compile(day.format(2))
    ).first.click()
    assert page.input_value("#deadline") == "2026-12-02 18:00"
    page.keyboard.press("Escape")
    type_into(page, "#deadline", "2026/12/01 18:00")  # typed and left; the calendar opens on it
    page.click("#deadline")
    page.locator(
        ".air-datepicker.-active- .air-datepicker-cell.-day-:not(.-other-month-)", has_text=re.compile(day.format(3))
    ).first.click()
    assert page.input_value("#deadline") == "2026-12-03 18:00"
    page.keyboard.press("Escape")
    page.click("input[name=title]")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto(server + "/ticketview/list/")
    assert "2026-12-03 18:00" in page.locator("tr", has_text=f"楼道灯闪烁{tag}").inner_text()

    # a payment's time starts at now and survives opening and leaving the box
    page.goto(server + "/paymentview/add")
    served = page.get_attribute("#paid_at", "value")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", served)
    page.click("#paid_at")
    page.keyboard.press("Tab")
    # the same moment: the server's clock is real, and a time served at :00 seconds is respelled by the
    # calendar without them (its own format); seconds other than 00 are never dropped
    left = page.input_value("#paid_at")
    assert left == served or (served.endswith(":00") and left == served[: -len(":00")])

    # the list filter has the same box and calendar
    page.goto(server + "/ticketview/list/")
    page.click("a.accordion-toggle[href='#accordion1_href']")
    page.click("#filter_form .dropdown-toggle")
    page.locator("a.filter[name=deadline]").click()
    box = page.locator("input.filter_val[data-crm-date=datetime]")
    box.click()
    assert not ENGLISH.search(page.locator(".air-datepicker.-active-").inner_text())
    page.keyboard.type("2026-12-02 00:00")
    assert box.input_value() == "2026-12-02 00:00"
