"""The technician on his phone (/m/): signs in with his usual account, opens the ticket he was given,
starts it, adds a note with a photo, writes a note in a basement with no network (kept on the page and
sent once when the network is back), and resolves the ticket with the result."""

import pytest

from tests.browser.conftest import STAFF_PASSWORD, in_app, no_horizontal_scroll

pytestmark = pytest.mark.browser

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
TITLE = "地下车库排水泵异响（手机测试）"
OFFLINE_NOTE = "地下室没有信号：已拆下叶轮，明天换新"


def _ticket_for_tech(server_env):
    return in_app(
        server_env,
        f"""
from flask_appbuilder.security.sqla.models import User
tech = db.session.query(User).filter_by(username="tech").one()
resident = db.session.query(CustomerUnit).order_by(CustomerUnit.id).first()
ticket = Ticket(title="{TITLE}", type="repair", customer_id=resident.customer_id, unit_id=resident.unit_id,
                assignee_id=tech.id, status="assigned", description="水泵运行时有金属摩擦声")
db.session.add(ticket)
db.session.commit()
print(ticket.number)
""",
    ).strip()


def _notes(server_env, number, text):
    return int(
        in_app(
            server_env,
            f"""
ticket = db.session.query(Ticket).filter_by(number="{number}").one()
print(db.session.query(TicketEvent).filter_by(ticket_id=ticket.id, note="{text}").count())
""",
        ).strip()
    )


def test_the_technician_works_a_ticket_on_his_phone_through_a_network_drop(phone, server, server_env):
    number = _ticket_for_tech(server_env)

    # the usual sign-in page, and back to the mobile view
    phone.goto(server + "/m/")
    assert "/login/" in phone.url
    phone.fill("input[name=username]", "tech")
    phone.fill("input[name=password]", STAFF_PASSWORD)
    with phone.expect_navigation():
        phone.locator("input[type=submit], button[type=submit]").first.tap()
    if "/m/" not in phone.url:
        phone.goto(server + "/m/")
    assert phone.locator("h1").inner_text() == "我的待办"
    assert no_horizontal_scroll(phone)

    # his ticket, with the remaining time; the card
    phone.locator("#my-tickets a", has_text=TITLE).tap()
    phone.wait_for_url(f"**/m/tickets/{number}")
    assert TITLE in phone.inner_text("#ticket-card") and no_horizontal_scroll(phone)
    with phone.expect_navigation():
        phone.locator("#ticket-start").tap()
    assert phone.inner_text("#ticket-status") == "处理中"

    # a note with a photo from the camera
    phone.fill("#note", "已到现场，先拍照")
    phone.set_input_files("#note-photos", files=[{"name": "水泵.png", "mimeType": "image/png", "buffer": PNG}])
    phone.locator("#ticket-note").tap()
    phone.wait_for_selector("#ticket-timeline >> text=已到现场，先拍照")
    assert "水泵.png" in phone.inner_text("#ticket-timeline")
    assert phone.locator("#ticket-photos img").count() == 1

    # the network drops: what is typed is kept as it is typed, and the note waits on the page
    phone.context.set_offline(True)
    phone.locator("#note").type(OFFLINE_NOTE)
    kept = phone.evaluate(f"localStorage.getItem('crm-mobile-draft:{number}')")
    assert kept == OFFLINE_NOTE
    phone.set_input_files("#note-photos", files=[{"name": "叶轮.png", "mimeType": "image/png", "buffer": PNG}])
    phone.locator("#ticket-note").tap()
    queued = phone.locator("#note-queue li")
    queued.wait_for()
    assert OFFLINE_NOTE in queued.inner_text() and "未发送，联网后自动发送" in queued.inner_text()
    assert "1 📷" in queued.inner_text()  # the photo waits too (IndexedDB)
    assert phone.input_value("#note") == ""
    assert _notes(server_env, number, OFFLINE_NOTE) == 0

    # back online: the note is sent, once
    phone.context.set_offline(False)
    phone.wait_for_selector(f"#ticket-timeline >> text={OFFLINE_NOTE}")
    assert phone.locator("#note-queue li").count() == 0
    phone.reload()
    phone.wait_for_load_state("networkidle")
    assert phone.locator("#ticket-timeline li", has_text=OFFLINE_NOTE).count() == 1
    assert "叶轮.png" in phone.inner_text("#ticket-timeline") and phone.locator("#ticket-photos img").count() == 2
    assert _notes(server_env, number, OFFLINE_NOTE) == 1

    # resolved with the result
    phone.fill("#resolution", "更换叶轮，试运行正常")
    with phone.expect_navigation():
        phone.locator("#ticket-resolve").tap()
    assert phone.inner_text("#ticket-status") == "已办结"
    assert "更换叶轮，试运行正常" in phone.inner_text("#ticket-card")
    assert phone.js_errors == []
