"""Browser tests: the real app served by a separate process, driven by the system Chromium.

Skipped only when no Chromium is installed; CI sets CRM_REQUIRE_BROWSER=1 to make that a failure.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from urllib.parse import urlparse

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ADMIN_PASSWORD = "Browser-admin-2026"
STAFF_PASSWORD = "Browser-staff-2026"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def clean_tables():
    """Browser tests use their own server and database, not the in-process test app."""
    yield


@pytest.fixture(scope="session")
def server_env():
    """The environment of the app server: `flask crm …` run with it acts on the same database."""
    tmp = tempfile.mkdtemp(prefix="crm-browser-")
    return dict(
        os.environ,
        CRM_INSTANCE_DIR=tmp,
        SECRET_KEY="browser-test",
        DATABASE_URL=os.environ.get("BROWSER_DATABASE_URL", f"sqlite:///{tmp}/crm.sqlite"),
        CRM_ADMIN_PASSWORD=ADMIN_PASSWORD,
        FLASK_APP="app",
        # every journey signs its residents in by code from 127.0.0.1: the limits are tested elsewhere
        CRM_PORTAL_CODES_PER_ADDRESS="10000",
        CRM_PORTAL_CODES_PER_NUMBER="1000",
    )


# Runs set-up code and `flask crm …` commands in the app server's app (its environment, database and
# real clock) inside one long-lived process per test worker: a fresh `python -c` each time cost 4–5 s
# of importing and building the app, some 25 times per run.
_SHELL = r"""
import contextlib, io, json, sys, traceback
from app import create_app
from app.extensions import db
import app.models as models
app = create_app()
for line in sys.stdin:
    call = json.loads(line)
    out, ok = io.StringIO(), True
    try:
        with contextlib.redirect_stdout(out):
            if "code" in call:
                with app.app_context():
                    exec(call["code"], {"db": db, "app": app, **vars(models)})
            else:
                result = app.test_cli_runner().invoke(args=call["args"], catch_exceptions=True)
                out.write(result.output)
                if result.exit_code != 0:
                    ok = False
                    if result.exc_info and result.exc_info[0] is not SystemExit:
                        out.write("".join(traceback.format_exception(*result.exc_info)))
    except BaseException:
        ok = False
        out.write(traceback.format_exc())
    sys.__stdout__.write(json.dumps({"ok": ok, "out": out.getvalue()}) + "\n")
    sys.__stdout__.flush()
"""
_shells = {}


def _shell(env):
    key = env["CRM_INSTANCE_DIR"]
    if key not in _shells or _shells[key].poll() is not None:
        _shells[key] = subprocess.Popen(
            [sys.executable, "-c", _SHELL],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(os.path.join(key, "shell.log"), "a"),
            text=True,
        )
    return _shells[key]


def _call(env, call):
    shell = _shell(env)
    shell.stdin.write(json.dumps(call) + "\n")
    shell.stdin.flush()
    line = shell.stdout.readline()
    if not line:
        raise AssertionError(f"the app shell ended; see {env['CRM_INSTANCE_DIR']}/shell.log")
    answer = json.loads(line)
    assert answer["ok"], f"{call} failed:\n{answer['out']}"
    return answer["out"]


def flask_command(env, *args):
    """``flask *args`` (a `crm` command) against the app server's database; returns what it printed."""
    return _call(env, {"args": list(args)})


def in_app(env, code):
    """Run ``code`` inside the app server's app (its database), with ``db`` and the models at hand;
    returns what it prints."""
    return _call(env, {"code": code.strip()})


@pytest.fixture(scope="session")
def server(server_env):
    env = server_env
    tmp = env["CRM_INSTANCE_DIR"]
    flask_command(env, "crm", "init")
    flask_command(env, "crm", "demo", "--customers", "20", "--staff-password", STAFF_PASSWORD)
    # the service desk of this firm may export customer lists (an admin grants it in the role page);
    # today in 工程部 only 刘国强 (tech) is at work, so a new repair goes to him
    in_app(
        env,
        """
sm = app.appbuilder.sm
sm.add_permission_role(sm.find_role('Service'), sm.find_permission_view_menu('can_export', 'Customer'))
tech = sm.find_user(username='tech')
for profile in db.session.query(StaffProfile).filter(StaffProfile.department.has(name='工程部')):
    profile.on_leave = profile.user_id != tech.id
    profile.max_open_tickets = 500 if profile.user_id == tech.id else profile.max_open_tickets
db.session.commit()
""",
    )
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "run", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(tmp, "server.log"), "w"),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # a busy shared machine can take a while to start the app
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(base + "/login/", timeout=5)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the app server did not start")
    yield base
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CRM_REQUIRE_BROWSER"):
            pytest.fail(f"Chromium not found at {CHROMIUM}")
        pytest.skip("no Chromium installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 3}


def _watched_page(context):
    page = context.new_page()
    page.foreign_requests = []
    page.js_errors = []

    def record(request):
        host = urlparse(request.url).hostname
        if request.url.startswith(("http://", "https://")) and host not in ("127.0.0.1", "localhost"):
            page.foreign_requests.append(request.url)

    page.csp_violations = []

    def console(message):
        if message.type == "error" and "Content Security Policy" in message.text:
            page.csp_violations.append(message.text)

    page.on("request", record)
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))
    page.on("console", console)
    return page


def _checked(page):
    assert page.foreign_requests == [], "pages must work offline"
    assert page.csp_violations == [], "every script must be allowed by the Content-Security-Policy"


@pytest.fixture
def page(browser, server):
    context = browser.new_context(locale="zh-CN")
    page = _watched_page(context)
    yield page
    context.close()
    _checked(page)


@pytest.fixture
def phone(browser, server):
    """A phone (390 × 844, touch) of its own: a resident's or a technician's, beside a desk ``page``."""
    contexts = []

    def open_phone():
        context = browser.new_context(locale="zh-CN", **PHONE)
        contexts.append(context)
        return _watched_page(context)

    first = open_phone()
    first.another = open_phone
    yield first
    pages = [p for context in contexts for p in context.pages]
    for context in contexts:
        context.close()
    for p in pages:
        _checked(p)


def no_horizontal_scroll(page):
    """A phone page fits its width: nothing scrolls sideways."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def sign_in_resident(page, server, server_env, phone_number):
    """Sign a resident in to the portal on ``page`` the way they do: their mobile number, then the
    code the SMS carries (read from the server's outbox, as no gateway is configured)."""
    page.goto(server + "/portal/sign-in")
    page.get_by_label("手机号").fill(phone_number)
    page.get_by_role("button", name="获取验证码").click()
    page.get_by_label("短信验证码").wait_for()
    body = in_app(
        server_env,
        "print(db.session.query(OutboxMessage.body).filter(OutboxMessage.template_key == 'portal_sign_in_code',"
        f" OutboxMessage.address == {phone_number!r}).order_by(OutboxMessage.id.desc()).first()[0])",
    )
    code = re.search(r"[0-9]{6}", body).group(0)
    page.get_by_label("短信验证码").fill(code)
    page.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_url(lambda url: "/portal/" in url and "/portal/sign-in" not in url)
    return code
