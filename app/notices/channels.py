"""Senders: one small class per external channel. Each sends one message or raises.

``TemporaryFailure`` (server down, timeout, 5xx): try the same channel again later.
``PermanentFailure`` (address refused, 4xx): give up on this channel and fall back to the next.
Any other exception counts as temporary.
"""

import json
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formataddr


class TemporaryFailure(Exception):
    pass


class PermanentFailure(Exception):
    pass


class EmailSender:
    channel = "email"

    def __init__(
        self,
        host,
        port=25,
        username=None,
        password=None,
        starttls=False,
        sender="crm@localhost",
        sender_name="物业CRM",
        timeout=15,
    ):
        self.host, self.port, self.timeout = host, int(port), timeout
        self.username, self.password, self.starttls = username, password, starttls
        self.sender, self.sender_name = sender, sender_name

    def send(self, message):
        email = EmailMessage()
        email["From"] = formataddr((self.sender_name, self.sender))
        email["To"] = message.address
        email["Subject"] = message.subject
        # the same id on every attempt of one outbox row: a receiver can drop a duplicate
        stamp = int(message.created_at.timestamp()) if message.created_at else 0
        email["Message-ID"] = f"<outbox-{message.id}-{stamp}@{self.sender.rpartition('@')[2] or 'localhost'}>"
        email.set_content(message.body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as error:
            raise PermanentFailure(f"recipient refused: {error.recipients}") from error
        except smtplib.SMTPResponseException as error:
            kind = PermanentFailure if 500 <= error.smtp_code < 600 else TemporaryFailure
            raise kind(f"SMTP {error.smtp_code} {error.smtp_error!r}") from error
        except (OSError, smtplib.SMTPException) as error:
            raise TemporaryFailure(f"SMTP: {error}") from error


class GatewaySender:
    """SMS through an HTTP gateway: POST JSON {channel, to, subject, text}; any 2xx is delivered."""

    channel = "sms"

    def __init__(self, url, token=None, timeout=15):
        self.url, self.token, self.timeout = url, token, timeout

    def payload(self, message):
        return {
            "channel": self.channel,
            "to": message.address,
            "subject": message.subject,
            "text": message.body,
            "reference": f"outbox-{message.id}",
        }

    def send(self, message):
        request = urllib.request.Request(
            self.url,
            data=json.dumps(self.payload(message), ensure_ascii=False).encode("utf-8"),
            headers={
                "Content-Type": "application/json; charset=utf-8",
                **({"Authorization": f"Bearer {self.token}"} if self.token else {}),
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as error:
            kind = PermanentFailure if 400 <= error.code < 500 and error.code != 429 else TemporaryFailure
            raise kind(f"gateway HTTP {error.code}") from error
        except (OSError, urllib.error.URLError) as error:
            raise TemporaryFailure(f"gateway: {error}") from error


class WeChatSender(GatewaySender):
    """WeChat official-account template messages, posted in WeChat's own shape to a gateway URL."""

    channel = "wechat"

    def __init__(self, url, token=None, template_id="", timeout=15):
        super().__init__(url, token, timeout)
        self.template_id = template_id

    def payload(self, message):
        return {
            "touser": message.address,
            "template_id": self.template_id,
            "data": {"first": {"value": message.subject}, "remark": {"value": message.body}},
            "reference": f"outbox-{message.id}",
        }


def senders_from_config(config):
    """The external senders this installation has configured, by channel."""
    senders = {}
    if config.get("SMTP_HOST"):
        senders["email"] = EmailSender(
            config["SMTP_HOST"],
            config.get("SMTP_PORT", 25),
            config.get("SMTP_USERNAME"),
            config.get("SMTP_PASSWORD"),
            config.get("SMTP_STARTTLS", False),
            config.get("MAIL_FROM", "crm@localhost"),
            config.get("APP_NAME", "物业CRM"),
        )
    if config.get("CRM_SMS_GATEWAY_URL"):
        senders["sms"] = GatewaySender(config["CRM_SMS_GATEWAY_URL"], config.get("CRM_GATEWAY_TOKEN"))
    if config.get("CRM_WECHAT_GATEWAY_URL"):
        senders["wechat"] = WeChatSender(
            config["CRM_WECHAT_GATEWAY_URL"], config.get("CRM_GATEWAY_TOKEN"), config.get("CRM_WECHAT_TEMPLATE_ID", "")
        )
    return senders
