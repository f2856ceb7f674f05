"""Attack tests: injection strings stored as text and shown escaped, tampered cookies, forged CSRF,
many writers at once on SQLite."""

import threading

import pytest

from app.extensions import db
from app.models import Building, Communication, Customer, Tag, Ticket
from tests import factories

PAYLOADS = [
    "<script>alert('x')</script>",
    "'; DROP TABLE customer; --",
    '" OR 1=1 --',
    "<img src=x onerror=alert(1)>",
    "{{7*7}}",
    "%(name)s ${jndi:ldap://x}",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_text_fields_store_injections_as_text_and_show_them_escaped(admin_client, ctx, payload):
    customer = factories.customer()
    writes = [
        ("/api/v1/tag/", {"name": payload[:30], "description": payload}, Tag, "description"),
        ("/api/v1/building/", {"code": "X1", "name": payload[:50], "address": payload}, Building, "address"),
        ("/api/v1/customer/", {"name": payload[:50], "phone": "13911112222", "notes": payload}, Customer, "notes"),
        ("/api/v1/ticket/", {"title": payload, "description": payload, "customer": customer.id}, Ticket, "title"),
        (
            "/api/v1/communication/",
            {"customer": customer.id, "channel": "phone", "summary": payload},
            Communication,
            "summary",
        ),
    ]
    for url, body, model, field in writes:
        response = admin_client.post(url, json=body)
        assert response.status_code == 201, (url, response.get_json())
        record = db.session.get(model, response.get_json()["id"])
        assert getattr(record, field) == body[field]  # stored exactly, as text
    assert db.session.query(Customer).count() == 2  # the tables are all still there
    for page in (
        "/tagview/list/",
        "/buildingview/list/",
        "/customerview/list/",
        "/ticketview/list/",
        "/communicationview/list/",
    ):
        html = admin_client.get(page).get_data(as_text=True)
        assert "<script>alert('x')</script>" not in html and "<img src=x onerror" not in html
        assert ">49<" not in html  # no template was evaluated


def test_a_tampered_session_cookie_is_not_a_login(app, login):
    client = login("Admin")
    cookie = client.get_cookie("session").value
    forged = app.test_client()
    forged.set_cookie("session", cookie[:-4] + ("AAAA" if not cookie.endswith("AAAA") else "BBBB"))
    assert forged.get("/customerview/list/").status_code == 302
    signed_elsewhere = app.test_client()
    from itsdangerous import URLSafeTimedSerializer

    fake = URLSafeTimedSerializer("not-the-secret", salt="cookie-session").dumps({"_user_id": "1", "_fresh": True})
    signed_elsewhere.set_cookie("session", fake)
    assert signed_elsewhere.get("/customerview/list/").status_code == 302


def test_forged_or_missing_csrf_tokens_change_nothing(app, admin_client, ctx):
    customer = factories.customer(name="防伪造")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        for token in (None, "forged-token"):
            data = {
                "name": "被篡改",
                "phone": customer.phone,
                "gender": "unknown",
                "type": "owner",
                "status": "active",
                "preferred_channel": "sms",
            }
            if token:
                data["csrf_token"] = token
            assert admin_client.post(f"/customerview/edit/{customer.id}", data=data).status_code == 400
        assert admin_client.post("/inbox/read-all").status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).name == "防伪造"


def test_twenty_writers_at_once_on_sqlite_all_succeed(app):
    errors, barrier = [], threading.Barrier(20)

    def write(n):
        try:
            with app.app_context():
                barrier.wait()
                for k in range(5):
                    db.session.add(Customer(name=f"并发{n}-{k}", phone=f"136{n:04d}{k:04d}"))
                    db.session.commit()
                db.session.remove()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(repr(error))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    with app.app_context():
        assert db.session.query(Customer).filter(Customer.name.like("并发%")).count() == 100


def test_what_the_api_fuzz_found_gets_a_clear_answer(admin_client, ctx):
    """Regressions found by the fuzz run: each of these was a 500."""
    for url, body in [
        ("/api/v1/unit/", {"building": None, "number": ""}),
        ("/api/v1/communication/", {"customer": None, "summary": ""}),
        ("/api/v1/payment/", {"amount": "5", "bill": {"id": 1}}),
    ]:
        response = admin_client.post(url, json=body)
        assert response.status_code in (400, 422), (url, response.status_code)
    huge = 10**30
    assert admin_client.get(f"/api/v1/customer/{huge}").status_code == 404
    assert admin_client.delete(f"/api/v1/unit/{huge}").status_code == 404
    assert admin_client.get(f"/customerview/show/{huge}").status_code == 404
