"""Identity providers for the portal: a resident proves who they are to a third party (WeChat) and
comes back with an id the firm has linked to their customer record.

WeChatOfficialAccount speaks the official account's web authorisation (网页授权, OAuth 2.0):
the phone is sent to ``/connect/oauth2/authorize`` and comes back to our callback with ``code`` and
``state``; the code is exchanged at ``/sns/oauth2/access_token`` for the user's ``openid``. The base
URLs are configurable so that tests and the demo can point them at a local stand-in.
"""

import json
import urllib.error
import urllib.parse
import urllib.request

from flask_babel import lazy_gettext as _
from sqlalchemy import select

from app.core.errors import DomainError
from app.models import Customer


class IdentityError(DomainError):
    """The provider refused or could not be reached: nobody is signed in."""


class IdentityProvider:
    """Where to send the resident (``authorize_url``) and who they are when they return (``identity_for``)."""

    name = ""

    def authorize_url(self, state, redirect_uri):
        raise NotImplementedError

    def identity_for(self, code):
        """The provider's id for the person who brought ``code`` back, or IdentityError."""
        raise NotImplementedError


class WeChatOfficialAccount(IdentityProvider):
    name = "wechat"

    def __init__(self, appid, secret, oauth_url="https://open.weixin.qq.com", api_url="https://api.weixin.qq.com",
                 scope="snsapi_base", timeout=10):  # fmt: skip
        self.appid, self.secret, self.scope, self.timeout = appid, secret, scope, timeout
        self.oauth_url, self.api_url = oauth_url.rstrip("/"), api_url.rstrip("/")

    def authorize_url(self, state, redirect_uri):
        query = urllib.parse.urlencode(
            {
                "appid": self.appid,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": self.scope,
                "state": state,
            }
        )
        return f"{self.oauth_url}/connect/oauth2/authorize?{query}#wechat_redirect"

    def identity_for(self, code):
        query = urllib.parse.urlencode(
            {"appid": self.appid, "secret": self.secret, "code": code, "grant_type": "authorization_code"}
        )
        try:
            with urllib.request.urlopen(f"{self.api_url}/sns/oauth2/access_token?{query}", timeout=self.timeout) as r:
                answer = json.loads(r.read().decode("utf-8"))
        except (OSError, ValueError) as error:  # network, HTTP error status, or not JSON
            raise IdentityError(_("WeChat could not be reached. Please try again or sign in by code.")) from error
        if not isinstance(answer, dict) or answer.get("errcode") or not answer.get("openid"):
            errcode = answer.get("errcode") if isinstance(answer, dict) else None
            raise IdentityError(
                _("WeChat refused the sign-in (error %(code)s). Please try again or sign in by code.", code=errcode)
            )
        return str(answer["openid"])[:64]


def provider_from_config(config):
    """The WeChat provider this installation configured, or None (no appid: the button is hidden)."""
    if not config.get("CRM_WECHAT_APPID"):
        return None
    return WeChatOfficialAccount(
        config["CRM_WECHAT_APPID"],
        config.get("CRM_WECHAT_SECRET", ""),
        config.get("CRM_WECHAT_OAUTH_URL") or "https://open.weixin.qq.com",
        config.get("CRM_WECHAT_API_URL") or "https://api.weixin.qq.com",
    )


def customer_for_openid(session, openid):
    if not openid:
        return None
    return session.execute(select(Customer).where(Customer.wechat_openid == openid)).scalars().first()


def link_openid(session, customer, openid):
    """Link the WeChat ``openid`` to ``customer`` (after they proved their number by code); an openid
    belongs to one customer, so a link elsewhere moves here. Commits."""
    for other in session.execute(
        select(Customer).where(Customer.wechat_openid == openid, Customer.id != customer.id)
    ).scalars():
        other.wechat_openid = None
    customer.wechat_openid = openid
    session.commit()
