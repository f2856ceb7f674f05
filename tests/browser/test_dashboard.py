"""The managers' dashboard in Chromium: every chart drawn from the app's own ECharts, no JS errors,
no request to another host; a click on a pie slice opens the ticket list filtered to that slice."""

import re

import pytest

from tests.browser.conftest import STAFF_PASSWORD
from tests.browser.test_customer_journey import login

pytestmark = pytest.mark.browser

# the first slice's middle, in the chart's own pixels (ECharts' layout of the drawn pie)
SLICE_MIDDLE = """el => {
  const chart = echarts.getInstanceByDom(el);
  const data = chart.getModel().getSeriesByIndex(0).getData();
  const layout = data.getItemLayout(0);
  const angle = (layout.startAngle + layout.endAngle) / 2;
  const radius = (layout.r + layout.r0) / 2;
  return {x: layout.cx + radius * Math.cos(angle), y: layout.cy + radius * Math.sin(angle),
          value: data.get('value', 0), name: data.getName(0)};
}"""


def test_dashboard_draws_every_chart_and_drills_down(page, server):
    login(page, server, "manager", STAFF_PASSWORD)
    assert "/dashboard/" in page.url  # managers start on the dashboard
    page.goto(server + "/dashboard/?start=2020-01-01")
    widgets = page.locator(".crm-widget[data-url]")
    count = widgets.count()
    assert count >= 12
    page.wait_for_function(
        "() => [...document.querySelectorAll('.crm-widget[data-url]')]"
        ".every(w => ['drawn', 'refused', 'failed'].includes(w.getAttribute('data-state')))",
        timeout=20000,
    )
    states = [widgets.nth(i).get_attribute("data-state") for i in range(count)]
    assert states == ["drawn"] * count
    assert page.locator(".crm-widget[data-url] canvas").count() == count  # every chart drawn on a canvas
    assert page.js_errors == []

    pie = page.locator('.crm-widget[data-key="tickets_by_type"] .crm-chart')
    target = pie.evaluate(SLICE_MIDDLE)
    assert target["value"] > 0
    box = pie.bounding_box()
    page.mouse.click(box["x"] + target["x"], box["y"] + target["y"])
    page.wait_for_url(re.compile(r"/ticketview/list/\?"), timeout=10000)
    assert "_flt_" in page.url
    text = page.locator("body").inner_text()
    shown = int(re.search(r"记录数[^0-9]*(\d+)", text).group(1))
    assert shown == target["value"]
    types = set(page.locator("table.table td").all_inner_texts())
    assert target["name"] in types
    assert page.js_errors == []


def test_reports_draw_their_charts(page, server):
    login(page, server, "manager", STAFF_PASSWORD)
    page.goto(server + "/reports/collection/?start=2020-01-01")
    page.wait_for_function(
        "() => document.querySelectorAll('.crm-widget[data-chart]').length > 0 && "
        "[...document.querySelectorAll('.crm-widget[data-chart]')]"
        ".every(w => w.getAttribute('data-state') === 'drawn')",
        timeout=20000,
    )
    assert page.locator(".crm-widget[data-chart] canvas").count() >= 2
    with page.expect_download() as download:
        page.click(".crm-report-download")
    assert download.value.suggested_filename.endswith(".xlsx")
    assert page.js_errors == []
