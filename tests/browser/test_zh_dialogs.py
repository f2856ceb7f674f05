"""What FAB's and Select2's scripts show is Chinese too: the "no row selected" alert, the multi-select
placeholder and the "no matches" message (app/static/js/crm.js, texts from crm/base.html)."""

import pytest

from tests.browser.conftest import ADMIN_PASSWORD
from tests.browser.test_customer_journey import login

pytestmark = pytest.mark.browser


def test_alerts_and_selects_speak_chinese(page, server):
    login(page, server, "admin", ADMIN_PASSWORD)
    page.goto(server + "/customerview/list/")
    page.wait_for_load_state("networkidle")
    page.evaluate("() => ab_alert('No row selected')")
    page.wait_for_selector("#modal-alert .modal-text:text('未选择任何记录')", timeout=5000)
    assert page.locator("#modal-alert .modal-footer button").inner_text().strip() == "确定"

    page.goto(server + "/customerview/add")
    page.wait_for_load_state("networkidle")
    search = page.locator("#tags + .select2 .select2-search__field")
    assert search.get_attribute("placeholder") == "请选择"
    search.click()
    search.type("没有这个标签zzz")
    page.wait_for_selector(".select2-results__message:text('没有匹配项')", timeout=5000)
    assert page.js_errors == []
