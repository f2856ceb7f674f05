"""WeChat official-account web authorisation (网页授权) against a local stand-in of WeChat's endpoints:
a known openid signs its customer in, an unknown one is linked after one code sign-in, a forged state
or a provider error signs nobody in."""

import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Customer, OutboxMessage
from tests import factories

APPID, SECRET = "wx1234567890abcdef", "stand-in-secret"


class StandIn:
    """WeChat's two endpoints: authorize (the user agrees, back to redirect_uri with code and state)
    and access_token (code → openid), on 127.0.0.1."""

    def __init__(self):
        self.openids = {}  # code -> openid, or -> errcode
        self.requests = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                stand_in.requests.append((url.path, query))
                if url.path == "/connect/oauth2/authorize":
                    if query.get("appid") != APPID or query.get("response_type") != "code":
                        self.send_response(400)
                        self.end_headers()
                        return
                    code = f"CODE{len(stand_in.requests)}"
                    stand_in.openids.setdefault(code, stand_in.next_openid)
                    target = (
                        query["redirect_uri"] + "?" + urllib.parse.urlencode({"code": code, "state": query["state"]})
                    )
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.end_headers()
                    return
                if url.path == "/sns/oauth2/access_token":
                    answer = stand_in.openids.get(query.get("code"))
                    if query.get("appid") != APPID or query.get("secret") != SECRET or answer is None:
                        body = {"errcode": 40029, "errmsg": "invalid code"}
                    elif isinstance(answer, int):
                        body = {"errcode": answer, "errmsg": "refused"}
                    else:
                        body = {"access_token": "ACCESS", "expires_in": 7200, "refresh_token": "R",
                                "openid": answer, "scope": "snsapi_base"}  # fmt: skip
                    data = json.dumps(body).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_response(404)
                self.end_headers()

        self.next_openid = "oOPENID-known"
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def wechat(app):
    stand_in = StandIn()
    saved = {
        k: app.config.get(k)
        for k in ("CRM_WECHAT_APPID", "CRM_WECHAT_SECRET", "CRM_WECHAT_OAUTH_URL", "CRM_WECHAT_API_URL")
    }
    app.config.update(
        CRM_WECHAT_APPID=APPID,
        CRM_WECHAT_SECRET=SECRET,
        CRM_WECHAT_OAUTH_URL=stand_in.url,
        CRM_WECHAT_API_URL=stand_in.url,
    )
    yield stand_in
    app.config.update(saved)
    stand_in.close()


def _through_wechat(app, client, stand_in, next_path=None):
    """Tap 微信登录: to the stand-in's authorize page, which sends the phone back to our callback."""
    start = client.get("/portal/wechat" + (f"?next={urllib.parse.quote(next_path)}" if next_path else ""))
    assert start.status_code == 302
    authorize = start.headers["Location"]
    assert authorize.startswith(stand_in.url + "/connect/oauth2/authorize?") and authorize.endswith("#wechat_redirect")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize).query))
    assert query["scope"] == "snsapi_base" and query["appid"] == APPID
    assert query["redirect_uri"] == app.config["CRM_BASE_URL"].rstrip("/") + "/portal/wechat/callback"

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        urllib.request.build_opener(NoRedirect).open(authorize.split("#")[0])
    except urllib.error.HTTPError as answer:  # the 302 back to us
        back = answer.headers["Location"]
    return client.get(back.replace(app.config["CRM_BASE_URL"].rstrip("/"), ""))


def test_known_openid_signs_its_customer_in(app, session, wechat):
    factories.customer(name="王秀英", phone="13912345678", wechat_openid="oOPENID-known")
    client = app.test_client()
    response = _through_wechat(app, client, wechat, next_path="/portal/me")
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/me")
    assert "王秀英" in client.get("/portal/").get_data(as_text=True)
    assert ("/sns/oauth2/access_token", {"appid": APPID, "secret": SECRET, "code": "CODE1",
            "grant_type": "authorization_code"}) in wechat.requests  # fmt: skip


def test_unknown_openid_is_linked_after_one_code_sign_in(app, session, wechat):
    customer_id = factories.customer(name="李建国", phone="13900001111").id
    wechat.next_openid = "oOPENID-new"
    client = app.test_client()
    response = _through_wechat(app, client, wechat)
    assert response.status_code == 302 and "/portal/sign-in" in response.headers["Location"]
    assert client.get("/portal/").status_code == 302  # not signed in yet
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "首次使用微信登录" in page and "绑定您的微信" in page
    client.post("/portal/sign-in", data={"action": "send", "phone": "13900001111"})
    body = db.session.execute(select(OutboxMessage.body)).scalar_one()
    code = re.search(r"[0-9]{6}", body).group(0)
    assert (
        client.post("/portal/sign-in", data={"action": "verify", "phone": "13900001111", "code": code}).status_code
        == 302
    )
    db.session.expire_all()
    assert db.session.get(Customer, customer_id).wechat_openid == "oOPENID-new"
    # from then on WeChat alone signs them in, on another phone too
    other = app.test_client()
    assert _through_wechat(app, other, wechat).status_code == 302
    assert "李建国" in other.get("/portal/").get_data(as_text=True)


def test_forged_or_missing_state_signs_nobody_in(app, session, wechat):
    factories.customer(name="王秀英", phone="13912345678", wechat_openid="oOPENID-known")
    wechat.openids["GOODCODE"] = "oOPENID-known"
    client = app.test_client()
    client.get("/portal/wechat")  # a state in this session
    for query in ("code=GOODCODE&state=forged", "code=GOODCODE"):
        response = client.get(f"/portal/wechat/callback?{query}")
        assert response.status_code == 302 and "/portal/sign-in" in response.headers["Location"]
        assert "登录请求已失效" in client.get("/portal/sign-in").get_data(as_text=True)
        assert client.get("/portal/").status_code == 302
    # a state from another browser does not fit this one
    stranger = app.test_client()
    assert stranger.get("/portal/wechat/callback?code=GOODCODE&state=x").status_code == 302
    assert stranger.get("/portal/").status_code == 302


def test_provider_error_gives_a_clear_message(app, session, wechat):
    factories.customer(name="王秀英", phone="13912345678", wechat_openid="oOPENID-known")
    wechat.next_openid = 40163  # code been used
    client = app.test_client()
    response = _through_wechat(app, client, wechat)
    assert response.status_code == 302 and "/portal/sign-in" in response.headers["Location"]
    page = client.get("/portal/sign-in").get_data(as_text=True)
    assert "微信登录未成功（错误码 40163）" in page
    assert client.get("/portal/").status_code == 302


def test_unreachable_provider_gives_a_clear_message(app, session, wechat):
    app.config["CRM_WECHAT_API_URL"] = "http://127.0.0.1:9"  # nothing listens there
    client = app.test_client()
    response = _through_wechat(app, client, wechat)
    assert response.status_code == 302
    assert "暂时无法连接微信" in client.get("/portal/sign-in").get_data(as_text=True)


def test_wechat_is_off_without_an_appid(app, session):
    assert not app.config.get("CRM_WECHAT_APPID")
    assert app.test_client().get("/portal/wechat").status_code == 404
    assert "微信登录" not in app.test_client().get("/portal/sign-in").get_data(as_text=True)
