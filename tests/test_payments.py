"""Online payment: signed notifications settle a bill once; forged, stale, unknown, wrong-amount or
repeated ones change nothing; the WeChat Pay and Alipay adapters check their real formats; reversing
an online payment refunds it first."""

import base64
import datetime
import json
import logging
import subprocess
import threading
import urllib.parse
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.core import aes_gcm, rsa
from app.extensions import db
from app.models import Bill, Payment, PaymentNotification, PaymentOrder
from app.billing.payments import (
    AlipayGateway,
    GatewayError,
    LocalGateway,
    NotificationRefused,
    WeChatPayGateway,
    alipay_content,
    receive_notification,
    start_payment,
)
from app.policy.principal import SYSTEM, acting_as
from tests import factories


@pytest.fixture
def order(app, ctx, now):
    bill = factories.bill(amount=Decimal("300.00"))
    made = start_payment(db.session, bill.customer_id, bill.id, LocalGateway(app.config), now)
    return made


def _notify(app, headers, body, gateway="local"):
    return app.test_client().post(f"/portal/pay/notify/{gateway}", data=body, headers=headers)


def _state(order_id):
    db.session.expire_all()
    order = db.session.get(PaymentOrder, order_id)
    payments = db.session.execute(select(Payment).where(Payment.bill_id == order.bill_id)).scalars().all()
    return order, db.session.get(Bill, order.bill_id), payments


def _outcomes():
    return [
        (n.outcome, n.reason)
        for n in db.session.execute(select(PaymentNotification).order_by(PaymentNotification.id)).scalars()
    ]


def test_a_signed_notification_pays_the_order_and_settles_the_bill_once(app, order, now):
    headers, body = LocalGateway(app.config).notification(order, now)
    first = _notify(app, headers, body)
    assert first.status_code == 200 and first.get_json() == {"code": "SUCCESS"}
    again = _notify(app, headers, body)  # the gateway repeats a notification it thinks was lost
    assert again.status_code == 200 and again.get_json() == {"code": "SUCCESS"}
    paid, bill, payments = _state(order.id)
    assert paid.status == "paid" and paid.notified_count == 2 and paid.transaction_id == f"LP{order.out_trade_no}"
    assert bill.status == "paid" and bill.paid_amount == Decimal("300.00")
    assert len(payments) == 1 and payments[0].method == "wechat" and payments[0].amount == Decimal("300.00")
    assert paid.payment_id == payments[0].id and payments[0].receipt_number.startswith("RC")
    assert [outcome for outcome, _reason in _outcomes()] == ["accepted", "replay"]


def test_the_notify_route_needs_no_csrf_token_but_portal_forms_do(app, order, now):
    headers, body = LocalGateway(app.config).notification(order, now)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert _notify(app, headers, body).status_code == 200
        client = app.test_client()
        assert client.post(f"/portal/bills/{order.bill_id}/pay").status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert _state(order.id)[0].status == "paid"


def test_two_concurrent_notifications_record_one_payment(app, order, now):
    headers, body = LocalGateway(app.config).notification(order, now)
    db.session.rollback()  # this test's own session holds no lock while the two deliveries race
    start, outcomes = threading.Barrier(2), []

    def deliver():
        with app.app_context():  # a session of its own, as a second server worker has
            start.wait()
            with acting_as(SYSTEM):
                outcomes.append(receive_notification(db.session, LocalGateway(app.config), headers, body, now)[0])
            db.session.remove()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["accepted", "replay"]
    paid, bill, payments = _state(order.id)
    assert len(payments) == 1 and bill.status == "paid" and paid.notified_count == 2


def test_the_claim_is_a_conditional_update(app, order, now):
    """The second claim of the same order finds no row in status 'created' (rowcount 0)."""
    from sqlalchemy import update

    claim = update(PaymentOrder).where(PaymentOrder.id == order.id, PaymentOrder.status == "created")
    assert db.session.execute(claim.values(status="paid")).rowcount == 1
    assert db.session.execute(claim.values(status="paid")).rowcount == 0
    db.session.rollback()


def _unchanged(order_id):
    order, bill, payments = _state(order_id)
    assert order.status == "created" and order.payment_id is None and order.transaction_id is None
    assert bill.status == "unpaid" and bill.paid_amount == Decimal("0.00") and payments == []


def test_forged_signature_is_refused_logged_and_changes_nothing(app, order, now, caplog):
    headers, body = LocalGateway(app.config).notification(order, now)
    forged = dict(headers, **{"Local-Pay-Signature": "0" * 64})
    with caplog.at_level(logging.WARNING, logger="app.billing.payments"):
        response = _notify(app, forged, body)
    assert response.status_code == 400 and response.get_json()["code"] == "FAIL"
    assert "bad signature" in caplog.text
    other_key = LocalGateway(dict(app.config, CRM_PAYMENT_LOCAL_KEY="not-the-shared-key"))
    assert _notify(app, *other_key.notification(order, now)).status_code == 400
    # a body changed after signing (a bigger amount, another order) fails the signature too
    tampered = body.replace(b'"300.00"', b'"3.00"')
    assert _notify(app, headers, tampered).status_code == 400
    assert _notify(app, {}, body).status_code == 400  # unsigned
    assert [outcome for outcome, _reason in _outcomes()] == ["refused"] * 4
    assert _outcomes()[0][1] == "bad signature" and _outcomes()[3][1] == "unsigned"
    _unchanged(order.id)


def test_stale_notification_is_refused(app, order, now):
    stale = now - datetime.timedelta(seconds=app.config["CRM_PAYMENT_NOTIFY_MAX_AGE"] + 5)
    headers, body = LocalGateway(app.config).notification(order, stale)
    assert _notify(app, headers, body).status_code == 400
    assert _outcomes() == [("refused", "stale timestamp")]
    _unchanged(order.id)


def test_unknown_order_and_wrong_amount_are_refused(app, order, now, caplog):
    gateway = LocalGateway(app.config)
    unknown = PaymentOrder(out_trade_no="PO000000000000", amount=order.amount)
    with caplog.at_level(logging.WARNING, logger="app.billing.payments"):
        assert _notify(app, *gateway.notification(unknown, now)).status_code == 400
        assert _notify(app, *gateway.notification(order, now, amount=Decimal("3.00"))).status_code == 400
    assert "unknown order" in caplog.text
    outcomes = _outcomes()
    assert outcomes[0] == ("refused", "unknown order")
    assert outcomes[1][0] == "refused" and "amount 3.00" in outcomes[1][1]
    _unchanged(order.id)
    # another gateway's endpoint does not know the stand-in's orders (nor its signature)
    assert _notify(app, *gateway.notification(order, now), gateway="nosuch").status_code == 404


def test_a_bill_settled_at_the_desk_meanwhile_refuses_the_online_payment(app, order, now):
    db.session.add(Payment(bill_id=order.bill_id, amount=Decimal("300.00"), method="cash"))
    db.session.commit()
    assert _notify(app, *LocalGateway(app.config).notification(order, now)).status_code == 400
    paid, bill, payments = _state(order.id)
    assert paid.status == "created" and len(payments) == 1 and bill.paid_amount == Decimal("300.00")
    assert "refund it at the gateway" in _outcomes()[0][1]


def test_a_resident_sees_no_notification_log(app, order, now, resident_login):
    from app.policy.principal import resident_principal

    _notify(app, *LocalGateway(app.config).notification(order, now))
    with acting_as(resident_principal(order.customer_id)):
        assert db.session.execute(select(PaymentNotification)).all() == []
        assert db.session.execute(select(PaymentOrder.id)).scalars().all() == [order.id]
    with acting_as(resident_principal(order.customer_id + 1000)):
        assert db.session.execute(select(PaymentOrder.id)).all() == []


# ---------------------------------------------------------------- refunds on reversal


def _paid(app, order, now):
    _notify(app, *LocalGateway(app.config).notification(order, now))
    return _state(order.id)[2][0]


def test_reversing_an_online_payment_refunds_it_at_the_gateway(app, order, now, login):
    payment = _paid(app, order, now)
    response = login("Supervisor").post(f"/paymentview/reverse/{payment.id}", data={"reason": "重复缴费，退款"})
    assert response.status_code == 302
    refunded, bill, payments = _state(order.id)
    assert refunded.status == "refunded" and refunded.refund_id == f"LRRF{order.out_trade_no}"
    assert refunded.refunded_amount == Decimal("300.00") and refunded.refund_status == "success"
    assert bill.status == "unpaid" and [p.kind for p in payments] == ["payment", "reversal"]


def test_a_refused_refund_leaves_the_reversal_unsaved(app, order, now, login, monkeypatch):
    payment = _paid(app, order, now)

    def refuse(self, order, amount, reason, refund_number):
        raise GatewayError("余额不足")

    monkeypatch.setattr(LocalGateway, "refund", refuse)
    page = login("Supervisor").post(f"/paymentview/reverse/{payment.id}", data={"reason": "重复缴费"})
    assert "支付渠道拒绝了退款，冲正未保存" in page.get_data(as_text=True) and "余额不足" in page.get_data(as_text=True)
    kept, bill, payments = _state(order.id)
    assert kept.status == "paid" and kept.refund_id is None and bill.status == "paid" and len(payments) == 1


def test_a_reversal_without_reason_asks_no_refund(app, order, now, login, monkeypatch):
    payment = _paid(app, order, now)
    asked = []
    monkeypatch.setattr(LocalGateway, "refund", lambda *args: asked.append(args) or ("x", "success"))
    login("Supervisor").post(f"/paymentview/reverse/{payment.id}", data={"reason": " "})
    assert asked == [] and _state(order.id)[0].status == "paid"


def test_online_payments_say_so_on_the_customer_timeline(app, order, now, login):
    from app.policy.principal import SYSTEM as system
    from app.customers.timeline import customer_timeline

    _paid(app, order, now)
    titles = [e.title for e in customer_timeline(db.session, order.customer_id, system) if e.kind == "payment"]
    assert titles == ["在线缴费（微信支付） 300.00"]


# ---------------------------------------------------------------- WeChat Pay and Alipay in their formats


def _openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout


@pytest.fixture
def keys(tmp_path):
    """A gateway's key and certificate and a merchant's key, made by openssl (another implementation)."""
    made = {}
    for who in ("platform", "merchant"):
        key = tmp_path / f"{who}.key"
        _openssl("genrsa", "-out", str(key), "2048")
        _openssl("rsa", "-in", str(key), "-pubout", "-out", str(tmp_path / f"{who}.pub"))
        made[who] = key
        made[f"{who}_pub"] = tmp_path / f"{who}.pub"
    cert = tmp_path / "platform.pem"
    _openssl(
        "req", "-new", "-x509", "-key", str(made["platform"]), "-subj", "/CN=Tenpay", "-days", "30", "-out", str(cert)
    )
    made["platform_cert"] = cert
    return made


def _openssl_sign(key, message):
    return base64.b64encode(_openssl("dgst", "-sha256", "-sign", str(key), data=message)).decode()


def _openssl_verifies(public_key, message, signature, tmp_path):
    (tmp_path / "sig").write_bytes(base64.b64decode(signature))
    result = subprocess.run(
        ["openssl", "dgst", "-sha256", "-verify", str(public_key), "-signature", str(tmp_path / "sig")],
        input=message,
        capture_output=True,
    )
    return result.returncode == 0


def _wechat(app, keys):
    return WeChatPayGateway(
        dict(
            app.config,
            WECHATPAY_MCHID="1900000109",
            WECHATPAY_APPID="wxd678efh567hg6787",
            WECHATPAY_SERIAL="5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
            WECHATPAY_API_V3_KEY="a" * 32,
            WECHATPAY_PRIVATE_KEY_PATH=str(keys["merchant"]),
            WECHATPAY_PLATFORM_CERT_PATH=str(keys["platform_cert"]),
            WECHATPAY_NOTIFY_URL="https://crm.example.com/portal/pay/notify/wechatpay",
        )
    )


def _wechat_notification(app, keys, order, now, amount_cents=30000):
    """A TRANSACTION.SUCCESS notification as WeChat Pay sends it (resource encrypted when possible)."""
    resource = json.dumps(
        {
            "mchid": "1900000109",
            "appid": "wxd678efh567hg6787",
            "out_trade_no": order.out_trade_no,
            "transaction_id": "1217752501201407033233368018",
            "trade_type": "MWEB",
            "trade_state": "SUCCESS",
            "success_time": now.astimezone(datetime.timezone(datetime.timedelta(hours=8))).isoformat(),
            "amount": {"total": amount_cents, "payer_total": amount_cents, "currency": "CNY", "payer_currency": "CNY"},
        }
    ).encode()
    ciphertext = base64.b64encode(aes_gcm.encrypt(b"a" * 32, b"fdasflkja484", resource, b"transaction")).decode()
    body = json.dumps(
        {
            "id": "EV-2018022511223320873",
            "create_time": now.isoformat(),
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext,
                "associated_data": "transaction",
                "nonce": "fdasflkja484",
            },
        },
        ensure_ascii=False,
    ).encode()
    timestamp, nonce = str(int(now.timestamp())), "fdasfwqewlkja484"
    signature = _openssl_sign(keys["platform"], f"{timestamp}\n{nonce}\n".encode() + body + b"\n")
    headers = {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature,
        "Wechatpay-Serial": "PLATFORMSERIAL",
    }
    return headers, body


def test_aes_256_gcm_answers_the_known_vectors():
    # FIPS-197 C.3, and the GCM specification's test cases 13, 14 and 16
    assert aes_gcm.encrypt_block(bytes(range(32)), bytes.fromhex("00112233445566778899aabbccddeeff")).hex() == (
        "8ea2b7ca516745bfeafc49904b496089"
    )
    assert aes_gcm.encrypt(bytes(32), bytes(12), b"").hex() == "530f8afbc74536b9a963b4f1c4cb738b"
    assert aes_gcm.encrypt(bytes(32), bytes(12), bytes(16)).hex() == (
        "cea7403d4d606b6e074ec5d3baf39d18" + "d0d1c8a799996bf0265b98b5d48ab919"
    )
    key, nonce = bytes.fromhex("feffe9928665731c6d6a8f9467308308" * 2), bytes.fromhex("cafebabefacedbaddecaf888")
    plaintext = bytes.fromhex(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
    )
    associated = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    sealed = aes_gcm.encrypt(key, nonce, plaintext, associated)
    assert sealed[:16].hex() == "522dc1f099567d07f47f37a32a84427d"
    assert sealed[-16:].hex() == "76fc6ece0f4e1768cddf8853bb2d551b"
    assert aes_gcm.decrypt(key, nonce, sealed, associated) == plaintext
    for tampered in (sealed[:-1] + bytes([sealed[-1] ^ 1]), bytes([sealed[0] ^ 1]) + sealed[1:]):
        with pytest.raises(ValueError):
            aes_gcm.decrypt(key, nonce, tampered, associated)
    with pytest.raises(ValueError):
        aes_gcm.decrypt(key, nonce, sealed, b"other")


def test_wechatpay_checks_the_platform_signature_and_decrypts_the_resource(app, order, now, keys):
    gateway = _wechat(app, keys)
    headers, body = _wechat_notification(app, keys, order, now)
    notice = gateway.verify_notification(headers, body, now)
    assert (notice.out_trade_no, notice.transaction_id) == (order.out_trade_no, "1217752501201407033233368018")
    assert notice.amount == Decimal("300.00") and abs((notice.paid_at - now).total_seconds()) < 1
    forged = dict(headers, **{"Wechatpay-Signature": _openssl_sign(keys["merchant"], body)})
    with pytest.raises(NotificationRefused, match="bad signature"):
        gateway.verify_notification(forged, body, now)
    with pytest.raises(NotificationRefused, match="bad signature"):
        gateway.verify_notification(headers, body.replace(b"TRANSACTION", b"TRANSACTIOM"), now)
    with pytest.raises(NotificationRefused, match="stale"):
        gateway.verify_notification(headers, body, now + datetime.timedelta(minutes=10))
    wrong_key = WeChatPayGateway(dict(gateway.config, WECHATPAY_API_V3_KEY="b" * 32))
    with pytest.raises(NotificationRefused, match="cannot be decrypted"):
        wrong_key.verify_notification(headers, body, now)


def test_wechatpay_notification_settles_the_bill_once(app, ctx, now, keys):
    bill = factories.bill(amount=Decimal("300.00"))
    saved = dict(app.config)
    app.config.update(_wechat(app, keys).config)
    try:
        order = start_payment(db.session, bill.customer_id, bill.id, _wechat(app, keys), now)
        short = _wechat_notification(app, keys, order, now, amount_cents=100)
        assert _notify(app, *short, "wechatpay").status_code == 400
        _unchanged(order.id)
        headers, body = _wechat_notification(app, keys, order, now)
        for _attempt in range(2):
            response = _notify(app, headers, body, "wechatpay")
            assert response.status_code == 204 and response.get_data() == b""
    finally:
        app.config.clear()
        app.config.update(saved)
    paid, settled, payments = _state(order.id)
    assert paid.status == "paid" and paid.transaction_id == "1217752501201407033233368018"
    assert settled.status == "paid" and len(payments) == 1 and payments[0].method == "wechat"
    assert [outcome for outcome, _reason in _outcomes()] == ["refused", "accepted", "replay"]


def test_wechatpay_signs_its_requests_as_api_v3_expects(app, order, now, keys, tmp_path):
    gateway = _wechat(app, keys)
    sent = []

    def transport(url, body, headers):
        sent.append((url, body, headers))
        return 200, json.dumps(
            {"h5_url": "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1"}
        ).encode()

    gateway.transport = transport
    assert gateway.create_order(order, "2026-10 物业费", "203.0.113.7")["redirect_url"].startswith(
        "https://wx.tenpay.com/"
    )
    url, body, headers = sent[0]
    assert url == "https://api.mch.weixin.qq.com/v3/pay/transactions/h5"
    payload = json.loads(body)
    assert payload["amount"] == {"total": 30000, "currency": "CNY"} and payload["out_trade_no"] == order.out_trade_no
    assert payload["scene_info"]["payer_client_ip"] == "203.0.113.7"
    auth = headers["Authorization"]
    assert auth.startswith('WECHATPAY2-SHA256-RSA2048 mchid="1900000109"')
    fields = dict(part.split("=", 1) for part in auth.split(" ", 1)[1].split(","))
    fields = {k: v.strip('"') for k, v in fields.items()}
    message = f"POST\n/v3/pay/transactions/h5\n{fields['timestamp']}\n{fields['nonce_str']}\n".encode() + body + b"\n"
    assert _openssl_verifies(keys["merchant_pub"], message, fields["signature"], tmp_path)


def test_wechatpay_refund_failure_is_a_gateway_error(app, order, keys):
    gateway = _wechat(app, keys)
    gateway.transport = lambda url, body, headers: (
        403,
        json.dumps({"code": "NOT_ENOUGH", "message": "余额不足"}).encode(),
    )
    with pytest.raises(GatewayError, match="余额不足"):
        gateway.refund(order, Decimal("300.00"), "重复缴费", "RF1")
    gateway.transport = lambda url, body, headers: (
        200,
        json.dumps({"refund_id": "50000000382019052709732678859", "status": "PROCESSING"}).encode(),
    )
    assert gateway.refund(order, Decimal("300.00"), "重复缴费", "RF1") == (
        "50000000382019052709732678859",
        "processing",
    )


def _alipay_config(app, keys):
    return dict(
        app.config,
        CRM_PAYMENT_GATEWAY="alipay",
        ALIPAY_APP_ID="2014072300007148",
        ALIPAY_PRIVATE_KEY_PATH=str(keys["merchant"]),
        ALIPAY_PUBLIC_KEY_PATH=str(keys["platform_pub"]),
        ALIPAY_NOTIFY_URL="https://crm.example.com/portal/pay/notify/alipay",
    )


def _alipay_notification(keys, order, now, total="300.00"):
    """An asynchronous notification as Alipay posts it (form fields, RSA2 by Alipay's key)."""
    paid = now.astimezone(datetime.timezone(datetime.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S")
    params = {
        "gmt_create": paid,
        "charset": "utf-8",
        "seller_email": "pay@example.com",
        "subject": "2026-10 物业费",
        "sign_type": "RSA2",
        "buyer_id": "2088102122524333",
        "invoice_amount": total,
        "notify_id": "2026112300222102003000000000000001",
        "fund_bill_list": '[{"amount":"%s","fundChannel":"ALIPAYACCOUNT"}]' % total,
        "notify_type": "trade_status_sync",
        "trade_status": "TRADE_SUCCESS",
        "receipt_amount": total,
        "app_id": "2014072300007148",
        "buyer_pay_amount": total,
        "seller_id": "2088102119685838",
        "gmt_payment": paid,
        "notify_time": paid,
        "version": "1.0",
        "out_trade_no": order.out_trade_no,
        "total_amount": total,
        "trade_no": "2026112322001424330500000001",
        "auth_app_id": "2014072300007148",
        "buyer_logon_id": "159****5620",
        "point_amount": "0.00",
    }
    params["sign"] = _openssl_sign(keys["platform"], alipay_content(params).encode())
    return urllib.parse.urlencode(params).encode()


def test_alipay_notification_is_verified_and_answered_success(app, ctx, now, keys):
    bill = factories.bill(amount=Decimal("300.00"))
    saved = dict(app.config)
    app.config.update(_alipay_config(app, keys))
    try:
        order = start_payment(db.session, bill.customer_id, bill.id, AlipayGateway(app.config), now)
        tampered = _alipay_notification(keys, order, now).replace(b"total_amount=300.00", b"total_amount=3.00")
        response = _notify(app, {"Content-Type": "application/x-www-form-urlencoded"}, tampered, "alipay")
        assert response.get_data(as_text=True) == "failure"
        _unchanged(order.id)
        body = _alipay_notification(keys, order, now)
        for _attempt in range(2):
            response = _notify(app, {"Content-Type": "application/x-www-form-urlencoded"}, body, "alipay")
            assert response.get_data(as_text=True) == "success"
    finally:
        app.config.clear()
        app.config.update(saved)
    paid, settled, payments = _state(order.id)
    assert paid.status == "paid" and paid.transaction_id == "2026112322001424330500000001"
    assert settled.status == "paid" and len(payments) == 1 and payments[0].method == "alipay"


def test_alipay_wap_pay_url_is_signed_by_the_merchant_key(app, order, now, keys, tmp_path):
    gateway = AlipayGateway(_alipay_config(app, keys))
    url = gateway.create_order(order, "2026-10 物业费")["redirect_url"]
    assert url.startswith("https://openapi.alipay.com/gateway.do?")
    params = dict(urllib.parse.parse_qsl(url.split("?", 1)[1]))
    assert params["method"] == "alipay.trade.wap.pay" and params["sign_type"] == "RSA2"
    assert json.loads(params["biz_content"])["total_amount"] == "300.00"
    assert _openssl_verifies(keys["merchant_pub"], alipay_content(params).encode(), params["sign"], tmp_path)
    assert rsa.verify(
        alipay_content(params).encode(),
        base64.b64decode(params["sign"]),
        rsa.public_key(keys["merchant_pub"].read_text()),
    )


def test_staff_who_read_payments_see_orders_and_the_notification_log(app, order, now, login, resident_login):
    headers, body = LocalGateway(app.config).notification(order, now)
    _notify(app, dict(headers, **{"Local-Pay-Signature": "f" * 64}), body)
    _notify(app, headers, body)
    desk = login("Service")
    orders = desk.get("/paymentorderview/list/").get_data(as_text=True)
    assert order.out_trade_no in orders and "已支付" in orders
    log = desk.get("/paymentnotificationview/list/").get_data(as_text=True)
    assert "bad signature" in log and "已拒绝" in log and "已受理" in log
    resident = resident_login(order.customer_id)
    for url in ("/paymentorderview/list/", "/paymentnotificationview/list/", "/api/v1/paymentorder/"):
        assert resident.get(url).status_code in (302, 401, 403, 404)


def test_the_stand_in_is_closed_once_a_real_gateway_is_configured(app, order, now, resident_login):
    headers, body = LocalGateway(app.config).notification(order, now)
    app.config["CRM_PAYMENT_GATEWAY"] = "wechatpay"
    try:
        client = resident_login(order.customer_id)
        assert client.get(f"/portal/pay/stand-in/{order.out_trade_no}").status_code == 404
        assert client.post(f"/portal/pay/stand-in/{order.out_trade_no}").status_code == 404
        assert _notify(app, headers, body).status_code == 404
    finally:
        app.config["CRM_PAYMENT_GATEWAY"] = "local"
    _unchanged(order.id)


def test_an_unreadable_key_is_a_clear_refusal(app, order, keys):
    gateway = _wechat(app, keys)
    gateway.config["WECHATPAY_PRIVATE_KEY_PATH"] = str(keys["merchant"]) + ".missing"
    with pytest.raises(GatewayError, match="尚未配置支付渠道"):
        gateway.refund(order, Decimal("300.00"), "重复缴费", "RF1")
