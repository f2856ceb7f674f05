"""A resident signs in on a phone with the code from the SMS, lands on the portal and opens 我的信息."""

import pytest

from tests.browser.conftest import in_app, no_horizontal_scroll, sign_in_resident

pytestmark = pytest.mark.browser


def test_resident_signs_in_by_code_and_opens_my_details(phone, server, server_env):
    customer = in_app(
        server_env,
        "c = db.session.query(Customer).filter(Customer.phone.like('1%')).order_by(Customer.id).first()\n"
        "print(c.phone + '|' + c.name)",
    ).strip()
    phone_number, name = customer.split("|")
    phone.goto(server + "/portal/")
    assert "/portal/sign-in" in phone.url
    assert phone.locator("h1").inner_text() == "登录"
    assert no_horizontal_scroll(phone)
    # a wrong code first: a clear message, still signed out
    phone.get_by_label("手机号").fill(phone_number)
    phone.get_by_role("button", name="获取验证码").tap()
    assert "验证码已发送至" in phone.locator(".portal-flash").inner_text()
    phone.get_by_label("短信验证码").fill("000000")
    phone.get_by_role("button", name="登录", exact=True).tap()
    assert "验证码不正确或已失效" in phone.locator(".portal-error").inner_text()
    code = sign_in_resident(phone, server, server_env, phone_number)
    assert phone.locator("h1").inner_text() == "住户服务"
    assert name in phone.locator(".portal-hello").inner_text()
    # the code is single use: the staff outbox shows it masked (checked in the unit tests)
    assert len(code) == 6
    phone.get_by_role("link", name="我的信息").tap()
    phone.wait_for_url("**/portal/me")
    assert phone.locator("h1").inner_text() == "我的信息"
    assert phone_number[:3] + "****" + phone_number[-4:] in phone.content()
    assert phone_number not in phone.locator("main").inner_text()
    assert no_horizontal_scroll(phone)
    phone.get_by_label("首选通知渠道").select_option("sms")
    phone.get_by_role("button", name="保存").tap()
    assert "已保存" in phone.locator(".portal-flash").inner_text()
