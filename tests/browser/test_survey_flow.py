"""A satisfaction survey end to end in Chromium: the service desk builds a two-question survey and sends
it; a customer answers through the personal link (no login); the result page shows the chart."""

import pytest

from tests.browser.conftest import STAFF_PASSWORD, flask_command, in_app
from tests.browser.test_customer_journey import login

pytestmark = pytest.mark.browser

LATEST_LINK = (
    "message = db.session.query(OutboxMessage).filter(OutboxMessage.dedupe_key.like('survey:%'))"
    ".order_by(OutboxMessage.id).first()\n"
    "print(message.body.rsplit('：', 1)[-1].strip())\n"
)


def test_build_send_answer_and_see_the_chart(browser, server, server_env, page):
    login(page, server, "service", STAFF_PASSWORD)
    # 1. the questionnaire: a survey, then two questions on its page
    page.goto(server + "/surveyview/add")
    page.fill("input[name=title]", "2026年冬季满意度调查（浏览器测试）")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/surveyview/show/" in page.url
    survey_id = page.url.rstrip("/").split("/")[-1].split("?")[0]
    questions = [("1", "您对物业服务的总体评价", "rating", ""), ("2", "您最满意的方面", "multiple", "保洁\n安保\n维修")]
    for position, text, kind, options in questions:
        page.goto(server + f"/surveyquestionview/add?_flt_0_survey={survey_id}")
        page.fill("input[name=position]", position)
        page.fill("input[name=text]", text)
        page.select_option("select[name=kind]", kind)
        if options:
            page.fill("textarea[name=options]", options)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
    page.goto(server + f"/surveyview/results/{survey_id}")
    assert "2 道题目" in page.inner_text("body")

    # 2. send it to the customers: one personal link each, through the outbox
    page.click("#survey-send")
    page.wait_for_selector("#crm-task")  # queued; the scheduler's worker sends it (its job, run once here)
    flask_command(server_env, "crm", "tasks")
    page.wait_for_selector("#crm-task[data-finished=done]", timeout=30000)
    assert "已通过发件箱发送给" in page.inner_text("#crm-task-summary")
    page.reload()
    assert page.inner_text("#survey-status") == "已发送"
    link = in_app(server_env, LATEST_LINK).strip().splitlines()[-1]
    assert "/survey/" in link

    # 3. the customer answers through the link, without logging in
    customer = browser.new_context(locale="zh-CN").new_page()
    customer.goto(server + link[link.index("/survey/") :])
    customer.check("input[type=radio][value='4']")
    customer.check("input[type=checkbox][value='安保']")
    customer.check("input[type=checkbox][value='维修']")
    customer.click("#survey-submit")
    customer.wait_for_load_state("networkidle")
    assert "感谢您的参与" in customer.inner_text("#survey-message")
    customer.goto(customer.url)  # the link works once
    assert "已填写过" in customer.inner_text("#survey-message")

    # 4. the results: a bar chart per question
    page.goto(server + f"/surveyview/results/{survey_id}")
    assert "1 位已作答" in page.inner_text("#survey-figures")
    first = page.locator("#survey-question-1 svg.survey-chart")
    assert first.is_visible()
    assert first.locator("rect.survey-bar[data-count='1']").count() == 1
    second = page.locator("#survey-question-2 svg.survey-chart rect.survey-bar")
    assert [second.nth(i).get_attribute("data-count") for i in range(3)] == ["0", "1", "1"]
    assert float(second.nth(1).get_attribute("width")) > 0
    assert page.js_errors == [] and customer.context.pages
