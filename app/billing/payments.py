"""Online payment of bills: an order per payment, a gateway to pay it, its signed notification, refunds.

A resident's order names one of their own bills and its outstanding amount. The gateway (WeChat Pay,
Alipay, or the local stand-in, chosen by CRM_PAYMENT_GATEWAY) takes the money on its own pages — no
card data ever reaches the app — and tells the app by a signed asynchronous notification. The
notification is checked (signature, freshness, a known order, the same amount), then the order is
marked paid by one conditional UPDATE (… WHERE status = 'created'), so a repeated or concurrent
notification finds nothing left to change; the Payment is recorded in the same transaction and
settled by the desk's one settlement rule (app.billing.bills). Whatever is refused is logged and recorded
in PaymentNotification, and changes nothing else. Reversing an online payment refunds it at the
gateway first; a refund the gateway refuses leaves the reversal unsaved.
"""

import base64
import datetime
import hashlib
import hmac
import json
import logging
import secrets
import urllib.parse
import urllib.request
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _
from sqlalchemy import select, update

from app.billing import bills as billing
from app.core import aes_gcm, rsa
from app.core.clock import local_zone, utcnow
from app.core.errors import DomainError
from app.models import Bill, Payment, PaymentNotification, PaymentOrder
from app.admin.numbering import next_number

log = logging.getLogger(__name__)
CENT = Decimal("0.01")


class NotificationRefused(Exception):
    """A notification that is not the gateway's, not fresh, or not about a payment we expect."""


class GatewayError(DomainError):
    """The gateway could not do what was asked (create an order, refund)."""


@dataclass
class Notice:
    """What a verified notification says was paid."""

    out_trade_no: str
    transaction_id: str
    amount: Decimal
    paid_at: datetime.datetime


def _amount(text):
    try:
        value = Decimal(str(text))
    except (InvalidOperation, ValueError) as error:
        raise NotificationRefused("amount is not a number") from error
    if not value.is_finite() or value != value.quantize(CENT):
        raise NotificationRefused("amount is not in cents")
    return value


def _fresh(timestamp, now, max_age):
    try:
        sent = int(timestamp)
    except (TypeError, ValueError) as error:
        raise NotificationRefused("no timestamp") from error
    if abs(now.timestamp() - sent) > max_age:
        raise NotificationRefused("stale timestamp")


def _header(headers, name):
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _read_key(path, reader):
    if not path:
        raise GatewayError(_("The payment gateway is not configured."))
    try:
        with open(path, "rb") as handle:
            return reader(handle.read())
    except (OSError, ValueError) as error:
        log.error("payment key %s cannot be read: %s", path, error)
        raise GatewayError(_("The payment gateway is not configured.")) from error


class PaymentGateway:
    """One way to pay online. ``name`` is the notify URL's last part; ``method`` the Payment's method."""

    name = ""
    method = ""

    def __init__(self, config):
        self.config = config

    def create_order(self, order, description, client_ip=None):
        """What the phone needs to pay ``order``: {"redirect_url": …} (H5 / wap pay)."""
        raise NotImplementedError

    def verify_notification(self, headers, body, now):
        """The Notice of a signed notification (``body``: bytes), or NotificationRefused."""
        raise NotImplementedError

    def refund(self, order, amount, reason, refund_number):
        """Refund ``amount`` of a paid order: (refund id, status) or GatewayError."""
        raise NotImplementedError

    def answer(self, accepted):
        """The HTTP answer the gateway expects: (body, status, content type)."""
        if accepted:
            return json.dumps({"code": "SUCCESS"}), 200, "application/json"
        return json.dumps({"code": "FAIL", "message": "refused"}), 400, "application/json"


# ---------------------------------------------------------------- the local stand-in


class LocalGateway(PaymentGateway):
    """A stand-in gateway for tests and the demo, with a signed protocol of its own: the notification
    is JSON, signed by HMAC-SHA256 with a shared key over "timestamp\\nnonce\\nbody\\n" (headers
    Local-Pay-Timestamp, -Nonce, -Signature). Its 收银台 page is served by the app itself."""

    name = "local"
    method = "wechat"

    def _key(self):
        key = self.config.get("CRM_PAYMENT_LOCAL_KEY")
        if key:
            return key.encode()
        return hmac.new(str(self.config["SECRET_KEY"]).encode(), b"local payment stand-in", hashlib.sha256).digest()

    def signature(self, timestamp, nonce, body):
        message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
        return hmac.new(self._key(), message, hashlib.sha256).hexdigest()

    def create_order(self, order, description, client_ip=None):
        return {"redirect_url": f"/portal/pay/stand-in/{order.out_trade_no}"}

    def notification(self, order, now, amount=None, transaction_id=None):
        """The (headers, body) the stand-in sends when ``order`` is paid."""
        body = json.dumps(
            {
                "out_trade_no": order.out_trade_no,
                "transaction_id": transaction_id or f"LP{order.out_trade_no}",
                "amount": str(order.amount if amount is None else amount),
                "paid_at": now.isoformat(),
                "status": "SUCCESS",
            },
            sort_keys=True,
        ).encode()
        timestamp, nonce = str(int(now.timestamp())), secrets.token_hex(8)
        headers = {
            "Local-Pay-Timestamp": timestamp,
            "Local-Pay-Nonce": nonce,
            "Local-Pay-Signature": self.signature(timestamp, nonce, body),
        }
        return headers, body

    def verify_notification(self, headers, body, now):
        timestamp, nonce = _header(headers, "Local-Pay-Timestamp"), _header(headers, "Local-Pay-Nonce")
        signature = _header(headers, "Local-Pay-Signature") or ""
        if not timestamp or not nonce:
            raise NotificationRefused("unsigned")
        if not hmac.compare_digest(self.signature(timestamp, nonce, body), signature):
            raise NotificationRefused("bad signature")
        _fresh(timestamp, now, self.config["CRM_PAYMENT_NOTIFY_MAX_AGE"])
        data = _json(body)
        if data.get("status") != "SUCCESS":
            raise NotificationRefused("not a success")
        return Notice(
            str(data.get("out_trade_no") or ""),
            str(data.get("transaction_id") or ""),
            _amount(data.get("amount")),
            _datetime(data.get("paid_at"), now),
        )

    def refund(self, order, amount, reason, refund_number):
        return f"LR{refund_number}", "success"


def _json(body):
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise NotificationRefused("not JSON") from error
    if not isinstance(data, dict):
        raise NotificationRefused("not a JSON object")
    return data


def _datetime(text, default):
    try:
        value = datetime.datetime.fromisoformat(str(text))
    except ValueError:
        return default
    return value.astimezone(datetime.timezone.utc) if value.tzinfo else default


def _post_json(url, body, headers, timeout=15):
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (configured https URL)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError as error:
        raise GatewayError(_("The payment gateway could not be reached: %(error)s", error=str(error))) from error


# ---------------------------------------------------------------- WeChat Pay (API v3)


class WeChatPayGateway(PaymentGateway):
    """WeChat Pay API v3: requests signed SHA256withRSA by the merchant key ("WECHATPAY2-SHA256-RSA2048"),
    notifications signed by the platform certificate over "timestamp\\nnonce\\nbody\\n", their resource
    encrypted with AEAD_AES_256_GCM under the API v3 key."""

    name = "wechatpay"
    method = "wechat"
    transport = staticmethod(_post_json)

    def authorization(self, method, path, body, timestamp, nonce):
        key = _read_key(self.config.get("WECHATPAY_PRIVATE_KEY_PATH"), rsa.private_key)
        message = f"{method}\n{path}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"
        signature = base64.b64encode(rsa.sign(message, key)).decode()
        return (
            f'WECHATPAY2-SHA256-RSA2048 mchid="{self.config.get("WECHATPAY_MCHID")}",nonce_str="{nonce}",'
            f'signature="{signature}",timestamp="{timestamp}",serial_no="{self.config.get("WECHATPAY_SERIAL")}"'
        )

    def _call(self, path, payload):
        body = json.dumps(payload, ensure_ascii=False).encode()
        timestamp, nonce = str(int(utcnow().timestamp())), secrets.token_hex(16)
        headers = {
            "Authorization": self.authorization("POST", path, body, timestamp, nonce),
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        status, answer = self.transport(self.config["WECHATPAY_API_URL"].rstrip("/") + path, body, headers)
        try:
            data = json.loads(answer or b"{}")
        except ValueError:
            data = {}
        if status >= 300:
            raise GatewayError(
                _("The payment gateway refused: %(error)s", error=data.get("message") or f"HTTP {status}")
            )
        return data

    def create_order(self, order, description, client_ip=None):
        data = self._call(
            "/v3/pay/transactions/h5",
            {
                "appid": self.config.get("WECHATPAY_APPID"),
                "mchid": self.config.get("WECHATPAY_MCHID"),
                "description": description[:127],
                "out_trade_no": order.out_trade_no,
                "notify_url": self.config.get("WECHATPAY_NOTIFY_URL"),
                "amount": {"total": _cents(order.amount), "currency": "CNY"},
                "scene_info": {"payer_client_ip": client_ip or "127.0.0.1", "h5_info": {"type": "Wap"}},
            },
        )
        if not data.get("h5_url"):
            raise GatewayError(_("The payment gateway refused: %(error)s", error="no h5_url"))
        return {"redirect_url": data["h5_url"]}

    def verify_notification(self, headers, body, now):
        timestamp, nonce = _header(headers, "Wechatpay-Timestamp"), _header(headers, "Wechatpay-Nonce")
        signature = _header(headers, "Wechatpay-Signature") or ""
        if not timestamp or not nonce or not signature:
            raise NotificationRefused("unsigned")
        try:
            certificate = _read_key(self.config.get("WECHATPAY_PLATFORM_CERT_PATH"), rsa.public_key)
            signed = base64.b64decode(signature, validate=True)
        except (GatewayError, ValueError, OSError) as error:
            raise NotificationRefused(f"cannot check the signature: {error}") from error
        message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
        if not rsa.verify(message, signed, certificate):
            raise NotificationRefused("bad signature")
        _fresh(timestamp, now, self.config["CRM_PAYMENT_NOTIFY_MAX_AGE"])
        envelope = _json(body)
        if envelope.get("event_type") != "TRANSACTION.SUCCESS":
            raise NotificationRefused("not a success")
        resource = envelope.get("resource") or {}
        data = _json(self.decrypt(resource))
        if data.get("trade_state") != "SUCCESS" or data.get("mchid") != self.config.get("WECHATPAY_MCHID"):
            raise NotificationRefused("not a success of this merchant")
        total = (data.get("amount") or {}).get("total")
        if not isinstance(total, int):
            raise NotificationRefused("no amount")
        return Notice(
            str(data.get("out_trade_no") or ""),
            str(data.get("transaction_id") or ""),
            (Decimal(total) / 100).quantize(CENT),
            _datetime(data.get("success_time"), now),
        )

    def decrypt(self, resource):
        """The plaintext of an AEAD_AES_256_GCM resource, keyed by the API v3 key."""
        if resource.get("algorithm") != "AEAD_AES_256_GCM":
            raise NotificationRefused("unknown resource algorithm")
        key = (self.config.get("WECHATPAY_API_V3_KEY") or "").encode()
        try:
            nonce, associated = resource["nonce"].encode(), (resource.get("associated_data") or "").encode()
            data = base64.b64decode(resource["ciphertext"], validate=True)
            try:
                from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            except ImportError:  # the standard-library fallback (app.core.aes_gcm)
                return aes_gcm.decrypt(key, nonce, data, associated)
            return AESGCM(key).decrypt(nonce, data, associated)
        except Exception as error:  # a wrong key, a tampered resource, a malformed one
            raise NotificationRefused("resource cannot be decrypted") from error

    def refund(self, order, amount, reason, refund_number):
        data = self._call(
            "/v3/refund/domestic/refunds",
            {
                "out_trade_no": order.out_trade_no,
                "out_refund_no": refund_number,
                "reason": (reason or "")[:80],
                "notify_url": self.config.get("WECHATPAY_NOTIFY_URL"),
                "amount": {"refund": _cents(amount), "total": _cents(order.amount), "currency": "CNY"},
            },
        )
        status = str(data.get("status") or "").upper()
        if status not in ("SUCCESS", "PROCESSING"):
            raise GatewayError(_("The payment gateway refused: %(error)s", error=status or "no status"))
        return str(data.get("refund_id") or ""), status.lower()

    def answer(self, accepted):
        if accepted:
            return "", 204, "application/json"
        return json.dumps({"code": "FAIL", "message": "失败"}, ensure_ascii=False), 400, "application/json"


def _cents(amount):
    return int((Decimal(amount) * 100).to_integral_value())


# ---------------------------------------------------------------- Alipay (RSA2)


def alipay_content(params):
    """Alipay's signed content: every parameter but sign and sign_type, non-empty, sorted, key=value&…"""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in ("sign", "sign_type") and params[k] != "")


class AlipayGateway(PaymentGateway):
    """Alipay open platform: requests and notifications signed RSA2 (SHA256withRSA) over the sorted
    key=value parameters; the merchant signs with its private key, Alipay with its own."""

    name = "alipay"
    method = "alipay"
    transport = staticmethod(_post_json)

    def _signed(self, method, biz_content, now, **extra):
        key = _read_key(self.config.get("ALIPAY_PRIVATE_KEY_PATH"), rsa.private_key)
        params = {
            "app_id": self.config.get("ALIPAY_APP_ID") or "",
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": now.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "biz_content": json.dumps(biz_content, ensure_ascii=False, separators=(",", ":")),
            **{k: v for k, v in extra.items() if v},
        }
        params["sign"] = base64.b64encode(rsa.sign(alipay_content(params).encode(), key)).decode()
        return params

    def create_order(self, order, description, client_ip=None):
        params = self._signed(
            "alipay.trade.wap.pay",
            {
                "out_trade_no": order.out_trade_no,
                "total_amount": f"{order.amount:.2f}",
                "subject": description[:256],
                "product_code": "QUICK_WAP_WAY",
            },
            utcnow(),
            notify_url=self.config.get("ALIPAY_NOTIFY_URL"),
            return_url=self.config.get("ALIPAY_RETURN_URL"),
        )
        return {"redirect_url": f"{self.config['ALIPAY_GATEWAY_URL']}?{urllib.parse.urlencode(params)}"}

    def verify_notification(self, headers, body, now):
        try:
            pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError) as error:
            raise NotificationRefused("not a form") from error
        params = dict(pairs)
        try:
            key = _read_key(self.config.get("ALIPAY_PUBLIC_KEY_PATH"), rsa.public_key)
            signed = base64.b64decode(params.get("sign") or "", validate=True)
        except (GatewayError, ValueError, OSError) as error:
            raise NotificationRefused(f"cannot check the signature: {error}") from error
        if params.get("sign_type") != "RSA2" or not rsa.verify(alipay_content(params).encode(), signed, key):
            raise NotificationRefused("bad signature")
        if params.get("app_id") != self.config.get("ALIPAY_APP_ID"):
            raise NotificationRefused("another app's notification")
        if params.get("trade_status") not in ("TRADE_SUCCESS", "TRADE_FINISHED"):
            raise NotificationRefused("not a success")
        try:
            paid_at = datetime.datetime.strptime(params.get("gmt_payment", ""), "%Y-%m-%d %H:%M:%S")
            paid_at = paid_at.replace(tzinfo=local_zone()).astimezone(datetime.timezone.utc)
        except ValueError:
            paid_at = now
        # Alipay's notification carries no timestamp header: its age is the payment time's
        if abs((now - paid_at).total_seconds()) > max(self.config["CRM_PAYMENT_NOTIFY_MAX_AGE"], 86400):
            raise NotificationRefused("stale notification")
        return Notice(
            params.get("out_trade_no", ""), params.get("trade_no", ""), _amount(params.get("total_amount")), paid_at
        )

    def refund(self, order, amount, reason, refund_number):
        params = self._signed(
            "alipay.trade.refund",
            {
                "out_trade_no": order.out_trade_no,
                "refund_amount": f"{Decimal(amount):.2f}",
                "refund_reason": (reason or "")[:256],
                "out_request_no": refund_number,
            },
            utcnow(),
        )
        status, answer = self.transport(
            self.config["ALIPAY_GATEWAY_URL"],
            urllib.parse.urlencode(params).encode(),
            {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
        )
        try:
            data = json.loads(answer or b"{}").get("alipay_trade_refund_response") or {}
        except (ValueError, AttributeError):
            data = {}
        if status >= 300 or data.get("code") != "10000":
            raise GatewayError(
                _("The payment gateway refused: %(error)s", error=data.get("sub_msg") or data.get("msg") or status)
            )
        return str(data.get("trade_no") or refund_number), "success"

    def answer(self, accepted):
        return ("success" if accepted else "failure"), 200, "text/plain"


GATEWAYS = {gateway.name: gateway for gateway in (LocalGateway, WeChatPayGateway, AlipayGateway)}


def gateway_named(name, config):
    """The gateway adapter called ``name`` with the app's configuration (None: no such gateway). The
    stand-in exists only while it is the configured gateway: it moves no money."""
    kind = GATEWAYS.get(name)
    if kind is None or (kind is LocalGateway and (config.get("CRM_PAYMENT_GATEWAY") or "local") != "local"):
        return None
    return kind(config)


def active_gateway(config):
    """The gateway residents pay through (CRM_PAYMENT_GATEWAY)."""
    gateway = gateway_named(config.get("CRM_PAYMENT_GATEWAY") or "local", config)
    if gateway is None:
        raise GatewayError(_("The payment gateway is not configured."))
    return gateway


# ---------------------------------------------------------------- the rules


def start_payment(session, customer_id, bill_id, gateway, now):
    """An order for the outstanding amount of one of the resident's bills (committed). An order still
    awaiting payment of the same amount through the same gateway is reused.

    The session must be scoped to the resident: a bill that is not theirs is not found."""
    bill = session.get(Bill, bill_id)
    if bill is None or bill.customer_id != customer_id:
        raise DomainError(_("This bill was not found."))
    if bill.status not in ("unpaid", "partial") or bill.outstanding <= 0:
        raise DomainError(_("This bill has nothing left to pay."))
    amount = billing.money(bill.outstanding)
    waiting = session.execute(
        select(PaymentOrder).where(
            PaymentOrder.bill_id == bill.id,
            PaymentOrder.status == "created",
            PaymentOrder.gateway == gateway.name,
            PaymentOrder.amount == amount,
        )
    ).scalar()
    if waiting is not None:
        return waiting
    number = next_number(session.connection(), "PO", now, local_zone())
    order = PaymentOrder(
        out_trade_no=number,
        customer_id=customer_id,
        bill_id=bill.id,
        amount=amount,
        status="created",
        gateway=gateway.name,
        created_at=now,
        notified_count=0,
    )
    session.add(order)
    session.commit()
    return order


def _record(session, gateway, out_trade_no, outcome, reason, remote_addr, now):
    session.add(
        PaymentNotification(
            gateway=gateway,
            received_at=now,
            out_trade_no=(out_trade_no or "")[:64] or None,
            outcome=outcome,
            reason=reason[:255] if reason else None,
            remote_addr=(remote_addr or "")[:64] or None,
        )
    )
    session.commit()
    level = logging.INFO if outcome == "accepted" else logging.WARNING
    log.log(level, "payment notification %s %s: %s %s", gateway, out_trade_no or "-", outcome, reason or "")


def receive_notification(session, gateway, headers, body, now, remote_addr=None):
    """Act on a gateway's notification: "accepted" (order paid, payment recorded and settled, once),
    "replay" (already paid: nothing changes) or "refused" (bad signature, stale, unknown order, wrong
    amount, or the bill can no longer take it: nothing changes). Every outcome is logged and recorded.

    Run it as the system: the notification, not a session, says who paid."""
    try:
        notice = gateway.verify_notification(headers, body, now)
    except NotificationRefused as error:
        session.rollback()
        _record(session, gateway.name, None, "refused", str(error), remote_addr, now)
        return "refused", None
    order = session.execute(
        select(PaymentOrder).where(
            PaymentOrder.out_trade_no == notice.out_trade_no, PaymentOrder.gateway == gateway.name
        )
    ).scalar()
    if order is None:
        _record(session, gateway.name, notice.out_trade_no, "refused", "unknown order", remote_addr, now)
        return "refused", None
    if notice.amount != Decimal(order.amount):
        reason = f"amount {notice.amount} is not the order's {order.amount}"
        _record(session, gateway.name, notice.out_trade_no, "refused", reason, remote_addr, now)
        return "refused", order
    claimed = session.execute(
        update(PaymentOrder)
        .where(PaymentOrder.id == order.id, PaymentOrder.status == "created")
        .values(
            status="paid",
            transaction_id=notice.transaction_id[:64],
            paid_at=notice.paid_at,
            notified_count=PaymentOrder.notified_count + 1,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        session.rollback()
        session.execute(
            update(PaymentOrder)
            .where(PaymentOrder.id == order.id)
            .values(notified_count=PaymentOrder.notified_count + 1)
            .execution_options(synchronize_session=False)
        )
        _record(session, gateway.name, notice.out_trade_no, "replay", f"order is {order.status}", remote_addr, now)
        return "replay", order
    payment = Payment(
        bill_id=order.bill_id,
        amount=order.amount,
        method=gateway.method,
        paid_at=notice.paid_at,
        notes=f"{_('Online payment')} {order.out_trade_no} {notice.transaction_id}"[:255],
    )
    session.add(payment)
    try:
        session.flush()  # the desk's settlement rule runs here (app.billing.bills, after flush)
    except DomainError as error:
        session.rollback()
        reason = f"bill cannot take the payment ({error}); refund it at the gateway"
        _record(session, gateway.name, notice.out_trade_no, "refused", reason, remote_addr, now)
        return "refused", order
    session.execute(update(PaymentOrder).where(PaymentOrder.id == order.id).values(payment_id=payment.id))
    session.commit()
    session.refresh(order)
    _record(session, gateway.name, notice.out_trade_no, "accepted", notice.transaction_id, remote_addr, now)
    return "accepted", order


def reverse_payment(session, payment, reason, now, config):
    """冲正 a payment (app.billing.bills.reverse_payment); one made online is first refunded at its gateway,
    and a refund the gateway refuses leaves the reversal unsaved."""
    order = session.execute(select(PaymentOrder).where(PaymentOrder.payment_id == payment.id)).scalar()
    if order is None:
        return billing.reverse_payment(session, payment, reason, now)
    if payment.kind != "payment" or payment.reversal is not None:
        return billing.reverse_payment(session, payment, reason, now)  # its own refusal
    if not (reason or "").strip():
        raise DomainError(_("Give the reason for the reversal."), field="reason")
    gateway = gateway_named(order.gateway, config)
    if gateway is None or order.status != "paid":
        raise DomainError(_("This online payment cannot be refunded (order %(number)s).", number=order.out_trade_no))
    refund_number = f"RF{order.out_trade_no}"
    try:
        refund_id, status = gateway.refund(order, Decimal(payment.amount), reason.strip(), refund_number)
    except GatewayError as error:
        log.warning("refund of %s refused: %s", order.out_trade_no, error)
        raise DomainError(
            _(
                "The refund was refused by the payment gateway, so the reversal was not saved: %(error)s",
                error=str(error),
            )
        ) from error
    order.refunded_amount = Decimal(order.refunded_amount or 0) + Decimal(payment.amount)
    order.status = "refunded" if order.refunded_amount >= Decimal(order.amount) else "partially_refunded"
    order.refund_id, order.refund_status, order.refunded_at = refund_id[:64], status[:20], now
    log.info("refund of %s: %s %s", order.out_trade_no, refund_id, status)
    return billing.reverse_payment(session, payment, reason, now)  # commits the reversal and the order together
