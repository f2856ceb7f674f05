"""A customer's page in Chromium: the related lists are closed panels; opening one fetches its rows."""

import pytest

from tests.browser.conftest import ADMIN_PASSWORD
from tests.browser.test_customer_journey import login

pytestmark = pytest.mark.browser


def test_opening_a_related_panel_shows_the_customers_tickets(page, server):
    login(page, server, "admin", ADMIN_PASSWORD)
    tickets = [
        t
        for t in page.request.get(server + "/api/v1/ticket/?q=(page_size:100)").json()["result"]
        if t.get("customer") and t["customer"].get("id")
    ]
    assert tickets, "the demo data has work orders with a customer"
    customer_id = tickets[0]["customer"]["id"]
    numbers = [t["number"] for t in tickets if t["customer"]["id"] == customer_id]

    page.goto(f"{server}/customerview/show/{customer_id}")
    panel = page.locator("#TicketView_href .crm-related")
    assert panel.get_attribute("data-loaded") is None and numbers[0] not in panel.inner_html()
    page.click("a.accordion-toggle[href='#TicketView_href']")
    page.wait_for_selector("#TicketView_href .crm-related[data-loaded='1'] table")
    rows = panel.locator("table").inner_text()
    assert all(number in rows for number in numbers)
    # a row's link leads to the ticket's own page
    page.locator("#TicketView_href a[href*='/ticketview/show/']").first.click()
    page.wait_for_load_state("networkidle")
    assert "/ticketview/show/" in page.url
    assert page.js_errors == []
