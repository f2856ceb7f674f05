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
