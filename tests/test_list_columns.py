"""Choosing a list's columns: ?cols narrows and orders them, the export follows, saved views keep it."""

import io
from urllib.parse import parse_qs

import openpyxl

from app.extensions import db
from app.models import SavedListView
from tests import factories


def test_cols_narrow_the_list_and_the_export(login, ctx):
    factories.customer(name="列选择", phone="13700001111")
    client = login("Manager")
    page = client.get("/customerview/list/?cols=phone,name").get_data(as_text=True)
    table = page[page.index("<table") :]
    assert table.index("13700001111") < table.index("列选择")  # the asked order
    assert "<th" in table and "类型" not in table.split("</thead>")[0]
    sheet = openpyxl.load_workbook(io.BytesIO(client.get("/customerview/export/?cols=phone,name").data)).active
    assert [c.value for c in sheet[1]] == ["电话", "姓名"]


def test_unknown_or_hidden_columns_are_ignored(login, ctx, app):
    from app.models import FieldPermission

    with app.app_context():
        role = app.appbuilder.sm.find_role("Service")
        db.session.add(FieldPermission(role_id=role.id, resource="Customer", field="phone", level="hidden"))
        db.session.commit()
    factories.customer(name="隐藏电话", phone="13700002222")
    page = login("Service").get("/customerview/list/?cols=phone,nonsense,name").get_data(as_text=True)
    assert "13700002222" not in page and "隐藏电话" in page


def test_a_saved_view_keeps_the_columns(login, ctx, user_id):
    client = login("Service")
    client.post("/customerview/savedview/", data={"name": "只看姓名电话", "query": "cols=name,phone&page_0=2&q=张"})
    saved = db.session.query(SavedListView).one()
    assert parse_qs(saved.query) == {"cols": ["name,phone"], "q": ["张"]}  # the page number is not kept
