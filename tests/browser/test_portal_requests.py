"""The resident's request from end to end, on phones (390 × 844, touch): a resident signs in by SMS code
and reports a leak with two photos; the desk sees it dispatched; the technician opens it on /m/, adds a
photo note and resolves it; the resident reads the timeline and rates the service."""

import re
import struct
import zlib

import pytest

from tests.browser.conftest import STAFF_PASSWORD, in_app, no_horizontal_scroll, sign_in_resident
from tests.browser.test_customer_journey import login

pytestmark = pytest.mark.browser

DESCRIPTION = "厨房水槽下水管漏水，地面有积水（住户在线报修测试）"


def png(red, green, blue, side=8):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes((red, green, blue)) * side for _ in range(side))
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_a_resident_reports_a_leak_the_technician_resolves_it_on_his_phone_and_the_resident_rates_it(
    phone, page, server, server_env, tmp_path
):
    # a resident who lives in a unit now signs in the way residents do: mobile number, then the SMS code
    mobile, visit = in_app(
        server_env,
        """
from app.core.clock import local_now, local_today
import datetime
resident = (db.session.query(Customer).join(CustomerUnit, CustomerUnit.customer_id == Customer.id)
            .filter(CustomerUnit.move_out.is_(None) | (CustomerUnit.move_out >= local_today()))
            .order_by(Customer.id).first())
print(resident.phone, (local_now() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
""",
    ).split()
    sign_in_resident(phone, server, server_env, mobile)

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

    # the desk sees it, dispatched by the same rule as a phoned-in repair: to 刘国强, the one at work in 工程部
    login(page, server, "service", STAFF_PASSWORD)
    page.goto(f"{server}/ticketwork/{number}")
    assert DESCRIPTION in page.inner_text("#ticket-summary")
    assert page.inner_text("#ticket-channel") == "网页"
    assert page.inner_text("#ticket-status") == "已派单"
    assert page.inner_text("#ticket-assignee") == "刘国强"

    # the technician opens it on his phone, starts it, adds a photo note and resolves it
    tech = phone.another()
    tech.goto(server + "/m/")
    tech.fill("input[name=username]", "tech")
    tech.fill("input[name=password]", STAFF_PASSWORD)
    with tech.expect_navigation():
        tech.locator("input[type=submit], button[type=submit]").first.tap()
    if "/m/" not in tech.url:
        tech.goto(server + "/m/")
    tech.locator("#my-tickets a", has_text=number).tap()
    tech.wait_for_url(f"**/m/tickets/{number}")
    assert DESCRIPTION in tech.inner_text("#ticket-card")
    with tech.expect_navigation():
        tech.locator("#ticket-start").tap()
    tech.fill("#note", "已到现场，水槽下水管密封圈老化")
    tech.set_input_files(
        "#note-photos", files=[{"name": "密封圈.png", "mimeType": "image/png", "buffer": png(90, 90, 90)}]
    )
    tech.locator("#ticket-note").tap()
    tech.wait_for_selector("#ticket-timeline >> text=已到现场，水槽下水管密封圈老化")
    tech.fill("#resolution", "更换了水槽下水管的密封圈，已试水无渗漏")
    with tech.expect_navigation():
        tech.locator("#ticket-resolve").tap()
    assert tech.inner_text("#ticket-status") == "已办结"
    assert no_horizontal_scroll(tech)
    assert tech.js_errors == []

    # the resident reads the progress and the result, and rates it
    phone.goto(server + "/portal/requests")
    phone.locator("#my-requests a", has_text=number).tap()
    phone.wait_for_url(f"**/portal/requests/{number}")
    timeline = phone.inner_text("#request-timeline")
    assert "已提交报修" in timeline and "已派单给 工程部 刘师傅" in timeline and "已处理完毕" in timeline
    assert "密封圈老化" not in timeline  # the technician's note is internal unless marked for the customer
    assert "密封圈" in phone.inner_text("#request-result")
    phone.locator("label[for=star-4]").tap()
    phone.fill("#rate-comment", "师傅来得很快")
    phone.locator("#rate-submit").tap()
    phone.wait_for_load_state("networkidle")
    assert "感谢您的评价" in phone.inner_text(".portal-flash-success")
    assert phone.inner_text("#request-rating .portal-stars") == "★★★★☆"
    assert no_horizontal_scroll(phone)
    assert phone.js_errors == []
