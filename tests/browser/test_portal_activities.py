"""社区活动 and 通知公告 on a phone: the desk publishes an activity, a resident signs up on their phone
(390 × 844, touch) and the desk's activity page lists them; the resident opens a notice sent to them."""

import pytest

from tests.browser.conftest import STAFF_PASSWORD, flask_command, in_app, no_horizontal_scroll
from tests.browser.test_customer_journey import login

pytestmark = pytest.mark.browser

TITLE = "业主联谊会（手机报名测试）"


def _times(server_env):
    # the server runs on the real clock: the activity is a few days after its now
    out = in_app(
        server_env,
        """
from datetime import timedelta
from app.core.clock import local_now
now = local_now()
for days, hour in ((3, 14), (3, 17), (2, 18)):
    print((now + timedelta(days=days)).strftime("%Y-%m-%d") + f" {hour}:00")
""",
    )
    return out.split("\n")[:3]


def _resident(server_env, server):
    row = in_app(server_env, "c = db.session.query(Customer).order_by(Customer.id).first()\nprint(c.phone, c.name)")
    phone_number, name = row.split()
    link = flask_command(server_env, "crm", "portal-link", phone_number).strip()
    return link.replace("http://127.0.0.1:5000", server), name


def test_a_resident_signs_up_on_the_phone_and_the_desk_sees_them(page, phone, server, server_env):
    starts, ends, deadline = _times(server_env)
    login(page, server, "service", STAFF_PASSWORD)
    page.goto(server + "/activityview/add")
    page.fill("input[name=title]", TITLE)
    page.fill("[name=place]", "会所二楼多功能厅")
    for name, value in (("starts_at", starts), ("ends_at", ends), ("sign_up_deadline", deadline)):
        page.fill(f"input[name={name}]", value)
    page.fill("input[name=capacity]", "2")
    page.select_option("select[name=status]", "published", force=True)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "记录已添加" in page.inner_text("body") and page.js_errors == []
    activity_id = in_app(
        server_env, f"print(db.session.query(Activity.id).filter_by(title='{TITLE}').scalar())"
    ).strip()

    link, name = _resident(server_env, server)
    phone.goto(link)
    phone.get_by_role("link", name="社区活动").tap()
    phone.wait_for_url("**/portal/activities")
    assert no_horizontal_scroll(phone)
    phone.get_by_role("link", name=TITLE).tap()
    assert "2 / 2" in phone.inner_text("#activity-places")
    phone.locator("#activity-sign-up").tap()
    phone.wait_for_load_state("networkidle")
    assert "报名成功" in phone.inner_text("main") and "1 / 2" in phone.inner_text("#activity-places")
    assert no_horizontal_scroll(phone)

    page.goto(f"{server}/activityview/show/{activity_id}")
    page.click("a.accordion-toggle[href='#ActivitySignUpView_href']")
    page.wait_for_selector("#ActivitySignUpView_href .crm-related[data-loaded='1'] table")
    assert name in page.locator("#ActivitySignUpView_href table").inner_text()
    assert page.js_errors == []


def test_a_resident_opens_a_notice_sent_to_them(phone, server, server_env):
    in_app(
        server_env,
        """
from app.notices import broadcasts
from app.core.clock import utcnow
b = Broadcast(title="停水通知（手机测试）", subject="周六停水通知", body="{customer_name}您好：周六9点至12点停水。", status="queued")
db.session.add(b)
db.session.commit()
broadcasts.queue_broadcast(db.session, b, utcnow(), "http://127.0.0.1", app.config["SECRET_KEY"])
""",
    )
    link, name = _resident(server_env, server)
    phone.goto(link)
    phone.get_by_role("link", name="通知公告").tap()
    phone.wait_for_url("**/portal/notices")
    notice = phone.locator(".portal-notices li", has_text="周六停水通知")
    assert "未读" in notice.inner_text()
    notice.locator("a").tap()
    phone.wait_for_load_state("networkidle")
    assert f"{name}您好：周六9点至12点停水。" in phone.inner_text("main")
    assert no_horizontal_scroll(phone)
    phone.go_back()
    phone.reload()
    assert "未读" not in phone.locator(".portal-notices li", has_text="周六停水通知").inner_text()
