"""A Chinese user sees Chinese everywhere, and no page loads anything from another host.

The walk is generic: it follows every menu entry the admin has, and for each model page also opens
the add form, a record's show page and its edit form (the first record the list shows), FAB's
security pages included. Other pages added later are walked without changes here.

What counts as a label: the text of headings, labels, buttons, table headers, options, legends, links
and menu entries, and the placeholder/title/aria-label attributes of any element. Table cells (data
values) are not labels. A label "speaks English" when it has Latin letters and no Chinese
character, once the words of ``ALLOWED`` and the values stored in the database are taken out.
"""

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

# Words a Chinese user reads as they are; each one is a name or a format, not an English sentence.
ALLOWED = {
    "Excel",
    "xlsx",
    "CSV",  # file formats named on download/import buttons
    "API",
    "ID",
    "URL",
    "SMS",
    "PDF",
    "JSON",
    "IP",  # technical names used as is in Chinese software
    "WeChat",
    "email",
    "Email",  # channel names
    "CRM",
    "ECharts",  # the product's name (物业CRM); the chart library's
    "English",  # the language switch names each language in that language
    "Cron",
    "OpenID",  # a field holding a cron expression; WeChat's own name for the id
}

LABEL_TAGS = {
    "label",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "button",
    "th",
    "option",
    "legend",
    "a",
    "caption",
    "dt",
    "summary",
    "title",
    "optgroup",
}
DATA_TAGS = {"td", "dd", "pre", "code", "textarea", "script", "style", "noscript"}
LABEL_ATTRIBUTES = ("placeholder", "title", "aria-label", "data-original-title", "alt")
SRC_ATTRIBUTES = {
    ("script", "src"),
    ("link", "href"),
    ("img", "src"),
    ("iframe", "src"),
    ("source", "src"),
    ("audio", "src"),
    ("video", "src"),
    ("embed", "src"),
    ("object", "data"),
}
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
LATIN = re.compile(r"[A-Za-z]")
WORD = re.compile(r"[A-Za-z][A-Za-z_\-]*")


class _Collector(HTMLParser):
    """Label texts and the addresses of loaded resources of one page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.labels = []
        self.sources = []
        self.option_value = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in LABEL_ATTRIBUTES:
            if attrs.get(name) and not self._in_data():
                self.labels.append((f"{tag}[{name}]", attrs[name]))
        for element, name in SRC_ATTRIBUTES:
            if tag == element and attrs.get(name):
                self.sources.append(attrs[name])
        if tag == "link" and (attrs.get("rel") or "") not in ("stylesheet", "icon", "preload", "shortcut icon"):
            self.sources = [s for s in self.sources if s != attrs.get("href")]
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.labels.append(("input[value]", attrs["value"]))
        if tag in (
            "br",
            "img",
            "input",
            "meta",
            "link",
            "hr",
            "source",
            "area",
            "base",
            "col",
            "embed",
            "param",
            "track",
            "wbr",
        ):
            return
        self.stack.append((tag, attrs))

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def _in_data(self):
        return any(tag in DATA_TAGS for tag, _ in self.stack)

    def handle_data(self, data):
        text = " ".join(data.split())
        if not text or self._in_data():
            return
        label = next(
            (tag for tag, _ in reversed(self.stack) if tag in LABEL_TAGS), self.stack[-1][0] if self.stack else "text"
        )
        if label == "option":
            attrs = next(a for t, a in reversed(self.stack) if t == "option")
            self.labels.append((f"option[{attrs.get('value', '')}]", text))
        else:
            self.labels.append((label, text))


def english_labels(html, data_words):
    """The labels of a page that carry an English word. A record's own text is not a label: a
    stored value (an option naming a record), or a word of the label that is one (a ticket number
    in a heading)."""
    collector = _Collector()
    collector.feed(html)
    found = []
    for where, text in collector.labels:
        if not LATIN.search(text) or text in data_words:
            continue
        own = " ".join(token for token in text.split() if token not in data_words)  # "工单 WO2026…"
        words = [w for w in WORD.findall(own) if len(w) > 1 and w.strip("-_") not in ALLOWED]
        if words:
            found.append(f"{where}: {text!r}")
    return found


def external_sources(html, host="localhost"):
    collector = _Collector()
    collector.feed(html)
    outside = []
    for address in collector.sources:
        parts = urlsplit(address.strip())
        if parts.scheme in ("http", "https", "") and parts.netloc and parts.netloc != host:
            outside.append(address)
        elif address.strip().startswith("//"):
            outside.append(address)
    # a script may still build an address of another host (a chart loader, a font)
    outside += re.findall(
        r"https?://(?!localhost\b)[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s\"'<>)]*",
        " ".join(re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S)),
    )
    return outside


def _menu_urls(app, appbuilder):
    urls = []

    def walk(items):
        for item in items:
            if item.childs:
                walk(item.childs)
            elif item.name != "-":
                url = item.get_url()
                if url and url.startswith("/"):
                    urls.append(url)

    with app.test_request_context():
        walk(appbuilder.menu.get_list())
    return urls


def _data_words(app):
    """Every text stored in the records: names, titles, numbers — values, not labels. The change
    history and the security tables are left out: they hold model and permission names."""
    from sqlalchemy import String, Text, select

    from app.extensions import db

    words = set()
    with app.app_context():
        for table in db.metadata.sorted_tables:
            if table.name.startswith("ab_") and table.name not in ("ab_user", "ab_role"):
                continue
            if table.name in ("change_log", "job_run", "seeded_default", "system_setting"):
                continue
            columns = [c for c in table.columns if isinstance(c.type, (String, Text))]
            if not columns:
                continue
            for row in db.session.execute(select(*columns).limit(2000)):
                words.update(str(v).strip() for v in row if v)
        from app.core.people import person_name

        words.update(person_name(user) for user in db.session.query(app.appbuilder.sm.user_model))
    return words


def _model_views(appbuilder):
    from flask_appbuilder.baseviews import BaseCRUDView

    return {
        view.route_base.strip("/"): view
        for view in appbuilder.baseviews
        if isinstance(view, BaseCRUDView) and view.route_base
    }


def _first_pk(html, base):
    match = re.search(rf'href="{re.escape(base)}/show/(\d+)', html)
    return match.group(1) if match else None


# links a walk never follows: they change something, leave the page or are not pages
SKIP = re.compile(
    r"/(delete|action|logout|lang|export|download|api|static|batch|reverse|approve|reject|unlock|"
    r"send|start|resend|close|terminate|step|generate|swagger)(/|$|_)"
)


def _pages(app, client):
    """(url, html) of every page reachable from the admin's menu: for model pages also the add form,
    the first record's show page and edit form, and the pages a show page links to (a ticket's
    work page, a customer's timeline, a record's change history)."""
    appbuilder = app.appbuilder
    crud = _model_views(appbuilder)
    seen = set()
    linked = []
    for url in _menu_urls(app, appbuilder) + ["/users/userinfo/", "/", "/inbox/"]:
        targets = [url]
        base = "/" + url.strip("/").split("/")[0]
        view = crud.get(base.strip("/"))
        if view is not None:
            listing = client.get(f"{base}/list/")
            pk = _first_pk(listing.get_data(as_text=True), base) if listing.status_code == 200 else None
            targets += [f"{base}/list/", f"{base}/add"]
            if pk:
                targets += [f"{base}/show/{pk}", f"{base}/edit/{pk}"]
        for target in targets:
            if target in seen:
                continue
            seen.add(target)
            response = client.get(target, follow_redirects=target == url)
            if response.status_code in (302, 403, 404, 405) and target != url:
                continue  # a view without that page (no add form, no edit)
            assert response.status_code == 200, f"{target} answered {response.status_code}"
            if response.mimetype == "text/html":
                page = response.get_data(as_text=True)
                if "/show/" in target:
                    linked += re.findall(r'href="(/[^"?#]*)"', page)
                yield target, page
    for target in dict.fromkeys(linked):
        if target in seen or SKIP.search(target) or re.search(r"/(show|edit|list|add)\b", target):
            continue
        seen.add(target)
        response = client.get(target)
        if response.status_code == 200 and response.mimetype == "text/html":
            yield target, response.get_data(as_text=True)


_walk = {}


@pytest.fixture
def walked(app, admin_client):
    """Pages walked over a database with demo records (so show/edit pages and pickers have rows);
    walked once for both checks."""
    if not _walk:
        from app.devdata.demo import load_demo_data
        from app.extensions import db

        import inspect

        small = {"customers": 12} if "customers" in inspect.signature(load_demo_data).parameters else {}
        with app.app_context():
            load_demo_data(db.session, **small)
            db.session.commit()
        admin_client.get("/lang/zh")
        _walk["pages"] = list(_pages(app, admin_client))
        _walk["data"] = _data_words(app)
    return _walk["pages"], _walk["data"]


def test_every_page_the_admin_reaches_speaks_chinese(walked):
    pages, data = walked
    assert len(pages) > 100, [url for url, _ in pages]
    problems = {url: english_labels(html, data) for url, html in pages}
    problems = {url: sorted(set(texts)) for url, texts in problems.items() if texts}
    assert problems == {}, "\n".join(f"{url}: {texts}" for url, texts in problems.items())


def test_no_page_loads_anything_from_another_host(walked):
    pages, _data = walked
    outside = {url: external_sources(html) for url, html in pages}
    assert {url: found for url, found in outside.items() if found} == {}


def _english(text):
    return [w for w in WORD.findall(str(text or "")) if len(w) > 1 and w.strip("-_") not in ALLOWED]


def test_the_api_describes_its_fields_in_chinese(app, admin_client):
    """Every model API: titles, labels and descriptions of _info and of a list answer."""
    from flask_appbuilder.api import ModelRestApi

    apis = [api for api in app.appbuilder.baseviews if isinstance(api, ModelRestApi)]
    assert len(apis) > 10
    problems = {}
    for api in apis:
        base = f"/api/v1/{api.resource_name}"
        info, listing = admin_client.get(f"{base}/_info"), admin_client.get(f"{base}/?q=(page_size:1)")
        assert info.status_code == listing.status_code == 200, base
        texts = [(key, info.json.get(key)) for key in ("add_title", "edit_title")]
        texts += [
            (f"{key}.{field['name']}.{part}", field.get(part))
            for key in ("add_columns", "edit_columns")
            for field in info.json.get(key, [])
            for part in ("label", "description")
        ]
        texts += [("list_title", listing.json.get("list_title"))]
        texts += [
            (f"{key}.{name}", text)
            for key in ("label_columns", "description_columns")
            for name, text in (listing.json.get(key) or {}).items()
        ]
        found = [f"{where}={text!r}" for where, text in texts if _english(text)]
        if found:
            problems[base] = found
    assert problems == {}, "\n".join(f"{base}: {found}" for base, found in problems.items())


def test_the_walk_finds_english_and_foreign_hosts():
    """The checks themselves: an English label and a CDN script are found; data cells are not labels."""
    page = (
        '<h3>Add Renovation</h3><button>保存</button><td>Smith</td><option value="">请选择</option>'
        '<input placeholder="Search"><th>Excel</th><a title="Export to Excel">导出</a>'
        '<script src="https://www.gstatic.com/charts/loader.js"></script><script src="/static/x.js"></script>'
    )
    assert english_labels(page, {"Smith"}) == [
        "h3: 'Add Renovation'",
        "input[placeholder]: 'Search'",
        "a[title]: 'Export to Excel'",
    ]
    assert external_sources(page) == ["https://www.gstatic.com/charts/loader.js"]
