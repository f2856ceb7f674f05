"""A resident reports a leak from their phone with two photos, the desk sees it (dispatched, or in
待处理诉求), and once it is resolved the resident reads the progress and rates the service."""

import re
import struct
import zlib

import pytest

from tests.browser.conftest import STAFF_PASSWORD, in_app, no_horizontal_scroll
from tests.browser.test_customer_journey import login

pytestmark = pytest.mark.browser

DESCRIPTION = "厨房水槽下水管漏水，地面有积水（住户在线报修测试）"


def png(red, green, blue, side=8):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes((red, green, blue)) * side for _ in range(side))
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_a_resident_reports_a_leak_follows_it_and_rates_it(phone, page, server, server_env, tmp_path):
    # a resident who lives in a unit now, signed in with their personal link (as `flask crm portal-link` prints)
    link, visit = in_app(
        server_env,
        """
from app.core.clock import local_now, local_today
from app.portal.links import sign_in_url
import datetime
resident = (db.session.query(Customer).join(CustomerUnit, CustomerUnit.customer_id == Customer.id)
            .filter(CustomerUnit.move_out.is_(None) | (CustomerUnit.move_out >= local_today()))
            .order_by(Customer.id).first())
print(sign_in_url(resident), (local_now() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
""",
    ).split()
    phone.goto(link.replace("http://127.0.0.1:5000", server))

    # 报事报修: type, unit, what is wrong, two photos from the album, when to come
    phone.get_by_role("link", name="报事报修").tap()
    phone.wait_for_url("**/portal/requests/new")
    assert no_horizontal_scroll(phone)
    photos = []
    for name, colour in (("水槽.png", (30, 120, 200)), ("地面.png", (200, 80, 40))):
        path = tmp_path / name
        path.write_bytes(png(*colour))
        photos.append(str(path))
    phone.select_option("#request-type", "repair")
    phone.fill("#request-description", DESCRIPTION)
    phone.set_input_files("#photos-album", photos)
    phone.wait_for_function("document.querySelectorAll('#photo-preview img').length === 2")
    phone.fill("#request-visit", visit)
    phone.locator("#request-submit").tap()
    phone.wait_for_url(re.compile(r".*/portal/requests/WO\d+$"))
    flash = phone.inner_text(".portal-flash-success")
    number = re.search(r"已提交，工单号 (WO\d{12})", flash).group(1)
    assert phone.locator("#request-photos img").count() == 2
    assert no_horizontal_scroll(phone)

    # the desk sees it: given to 刘国强 (the one at work in 工程部 today), or waiting in 待处理诉求
    login(page, server, "service", STAFF_PASSWORD)
    page.goto(f"{server}/ticketwork/{number}")
    assert DESCRIPTION in page.inner_text("#ticket-summary")
    assert page.inner_text("#ticket-channel") == "网页"
    status = page.inner_text("#ticket-status")
    if status == "已派单":
        assert page.inner_text("#ticket-assignee") == "刘国强"
    else:
        assert status == "新建"
        page.goto(server + "/pendingpoolview/list/")
        assert number in page.locator("tr", has_text=number).inner_text()

    # the work is done: started and resolved with the result on the ticket's work page
    page.goto(f"{server}/ticketwork/{number}")
    page.click("#ticket-start")
    page.wait_for_load_state("networkidle")
    page.fill("#resolution", "更换了水槽下水管的密封圈，已试水无渗漏")
    page.click("#ticket-resolve")
    page.wait_for_load_state("networkidle")
    assert page.inner_text("#ticket-status") == "已办结"

    # the resident reads the progress and the result, and rates it
    phone.goto(server + "/portal/requests")
    phone.locator("#my-requests a", has_text=number).tap()
    phone.wait_for_url(f"**/portal/requests/{number}")
    timeline = phone.inner_text("#request-timeline")
    assert "已提交报修" in timeline and "已处理完毕" in timeline
    if status == "已派单":
        assert "已派单给 工程部 刘师傅" in timeline
    assert "密封圈" in phone.inner_text("#request-result")
    phone.locator("label[for=star-4]").tap()
    phone.fill("#rate-comment", "师傅来得很快")
    phone.locator("#rate-submit").tap()
    phone.wait_for_load_state("networkidle")
    assert "感谢您的评价" in phone.inner_text(".portal-flash-success")
    assert phone.inner_text("#request-rating .portal-stars") == "★★★★☆"
    assert no_horizontal_scroll(phone)
    assert phone.js_errors == []
