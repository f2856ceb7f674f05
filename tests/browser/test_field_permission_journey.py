"""An admin hides a field for the service desk in the matrix; the service desk no longer sees it."""

import io
import re

import openpyxl
import pytest

from tests.browser.conftest import ADMIN_PASSWORD, STAFF_PASSWORD
from tests.browser.test_customer_journey import login

pytestmark = pytest.mark.browser


def test_hidden_field_disappears_from_list_form_and_export(page, server):
    login(page, server, "admin", ADMIN_PASSWORD)
    page.goto(server + "/fieldpermissions/?model=Customer")
    header = page.locator("#field-permission-matrix thead th").all_inner_texts()
    column = header.index("客服专员")
    row = page.locator("#field-permission-matrix tbody tr", has=page.locator("small", has_text="phone")).first
    row.locator("select").nth(column - 1).select_option("hidden")
    page.click("#field-permission-matrix button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "字段权限已保存" in page.content()
    page.goto(server + "/logout/")

    login(page, server, "service", STAFF_PASSWORD)
    page.goto(server + "/customerview/list/")
    table = page.locator("table", has=page.locator("th", has_text="姓名")).last
    headers = table.locator("th").all_inner_texts()
    assert any("姓名" in h for h in headers) and not any("电话" in h for h in headers)
    assert not page.locator("text=/1[3-9]\\d{9}/").count()

    page.goto(server + "/customerview/add")
    assert page.locator("input[name=name]").count() == 1
    assert page.locator("input[name=phone]").count() == 0

    page.goto(server + "/customerview/list/")
    with page.expect_download() as download_info:
        page.click("a.crm-export")
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    with open(download.path(), "rb") as fh:
        sheet = openpyxl.load_workbook(io.BytesIO(fh.read())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert "姓名" in rows[0] and "电话" not in rows[0]
    assert len(rows) - 1 >= 20  # the 20 demo customers (other journeys may add more)
    assert not any(re.fullmatch(r"1[3-9]\d{9}", str(cell)) for row in rows for cell in row if cell)
    assert page.js_errors == []


def _digits(text):
    return re.sub(r"\D", "", text)


def test_a_protected_phone_is_nowhere_for_the_desk_and_the_technician(page, server, browser):
    """Hidden for the service desk, masked for technicians, set in the matrix page: walking each role's
    pages (customer, ticket, bill, care reminders, timeline) and the API finds the phone nowhere."""
    login(page, server, "admin", ADMIN_PASSWORD)
    page.goto(server + "/fieldpermissions/?model=Customer")
    header = page.locator("#field-permission-matrix thead th").all_inner_texts()
    row = page.locator("#field-permission-matrix tbody tr", has=page.locator("small", has_text="phone")).first
    row.locator("select").nth(header.index("客服专员") - 1).select_option("hidden")
    row.locator("select").nth(header.index("维修人员") - 1).select_option("masked")
    page.click("#field-permission-matrix button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "字段权限已保存" in page.content()
    # a demo customer with a phone, a work order of the technician's and a bill (read as the admin)
    tech_context = browser.new_context(locale="zh-CN")
    tech = tech_context.new_page()
    login(tech, server, "tech", STAFF_PASSWORD)
    tickets = [
        t
        for t in tech.request.get(server + "/api/v1/ticket/?q=(page_size:100)").json()["result"]
        if t.get("customer") and t["customer"].get("id")
    ]
    assert tickets, "the technician has work orders with a customer"
    ticket = tickets[0]
    customer_id = ticket["customer"]["id"]
    phone = page.request.get(f"{server}/api/v1/customer/{customer_id}").json()["result"]["phone"]
    assert re.fullmatch(r"1[3-9]\d{9}", phone)
    bills = page.request.get(
        f"{server}/api/v1/bill/?q=(filters:!((col:customer,opr:rel_o_m,value:{customer_id})))"
    ).json()["result"]
    page.goto(server + "/logout/")

    login(page, server, "service", STAFF_PASSWORD)
    service_paths = [
        f"/customerview/show/{customer_id}",
        f"/ticketview/show/{ticket['id']}",
        "/care/",
        f"/customerview/timeline/{customer_id}",
        f"/api/v1/customer/{customer_id}",
        f"/api/v1/ticket/{ticket['id']}",
        "/customerview/list/",
    ]
    service_paths += [f"/billview/show/{b['id']}" for b in bills[:1]] + [f"/api/v1/bill/{b['id']}" for b in bills[:1]]
    for path in service_paths:
        response = page.request.get(server + path)
        assert response.status in (200, 302, 404), (path, response.status)
        assert phone not in _digits(response.text()), f"the desk reads the hidden phone on {path}"
    page.goto(f"{server}/customerview/show/{customer_id}")
    assert phone not in _digits(page.content())

    tech_paths = [
        f"/customerview/show/{customer_id}",
        f"/ticketwork/{ticket['number']}",
        f"/ticketview/show/{ticket['id']}",
        f"/api/v1/ticket/{ticket['id']}",
        f"/api/v1/customer/{customer_id}",
        f"/lookup/customer?q={phone}",
    ]
    for path in tech_paths:
        response = tech.request.get(server + path)
        assert response.status in (200, 302, 403, 404), (path, response.status)
        assert phone not in _digits(response.text()), f"a technician reads the masked phone on {path}"
    tech.goto(f"{server}/ticketwork/{ticket['number']}")
    assert phone not in _digits(tech.content())
    tech_context.close()
    assert page.js_errors == []
