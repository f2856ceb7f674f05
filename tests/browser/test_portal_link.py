"""A resident opens their personal link on a phone and lands on the portal's home page."""

import pytest

from tests.browser.conftest import flask_command, in_app, no_horizontal_scroll

pytestmark = pytest.mark.browser


def test_personal_link_opens_the_portal_on_a_phone(phone, server, server_env):
    phone_number = in_app(
        server_env, "print(db.session.query(Customer.phone).order_by(Customer.id).first()[0])"
    ).strip()
    link = flask_command(server_env, "crm", "portal-link", phone_number).strip()
    phone.goto(link.replace("http://127.0.0.1:5000", server))
    assert phone.locator("h1").inner_text() == "住户服务"
    assert no_horizontal_scroll(phone)
    phone.get_by_role("button", name="退出登录").tap()
    phone.wait_for_url("**/portal/sign-in")
    phone.goto(server + "/portal/")
    assert "/portal/sign-in" in phone.url
