"""FAB's own security pages (权限管理) in Chromium as the admin: each one loads, runs without a
JavaScript error and asks no other host for anything (the page fixture fails on any such request),
including 用户统计, which FAB drew with Google's chart loader."""

import pytest

from tests.browser.conftest import ADMIN_PASSWORD
from tests.browser.test_customer_journey import login

pytestmark = pytest.mark.browser

SECURITY_PAGES = [
    "/users/list/",
    "/users/show/1",
    "/users/edit/1",
    "/users/add",
    "/roles/list/",
    "/roles/show/1",
    "/userstatschartview/chart/",
    "/permissions/list/",
    "/viewmenus/list/",
    "/permissionviews/list/",
    "/users/userinfo/",
    "/resetmypassword/form",
]


def test_the_security_pages_make_no_request_to_another_host(page, server):
    login(page, server, "admin", ADMIN_PASSWORD)
    for path in SECURITY_PAGES:
        response = page.goto(server + path)
        page.wait_for_load_state("networkidle")
        assert response.status == 200, path
        assert page.foreign_requests == [], path
    page.goto(server + "/userstatschartview/chart/")
    page.wait_for_function(
        "() => document.querySelector('#crm-user-stats').getAttribute('data-state') === 'drawn'", timeout=10000
    )
    assert page.locator("#crm-user-stats canvas").count() == 1
    assert page.js_errors == []
