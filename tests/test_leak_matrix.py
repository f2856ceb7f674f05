"""The leak matrix, generated from the registry of models and the views and APIs declared on them.

For every model with a page, every text field it shows, and both protective levels (hidden, masked),
a staff role that may read the model is given that level; a record carrying a unique value in the
field is then read through every path of that model — list page, show page, the REST list and show,
the Excel export when the role may export, other models' API responses that embed it, and the quick
search — and the value must appear nowhere in clear; searching for it answers as for a wrong value.

A new model with a page joins by declaration: it is built by the generic maker below (required
columns filled from their types and declared choices, required relations made the same way), or by
an entry in MAKERS when its rules need more.
"""

import datetime
import io
import itertools
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric, String, Text, update

from app.web.model_api import CrmModelApi
from app.web.model_view import CrmModelView
from app import models
from app.extensions import db
from app.models import FieldPermission
from tests import factories
from tests.pages import show_page

LEVELS = ("hidden", "masked")
# the staff roles tried, widest reach first (a scoped role may simply not see the record)
READERS = ("Service", "Manager", "Supervisor", "Technician")
# models whose records only the system writes, or that hold no text about a person
NOT_PERSONAL = {"AccountSecurity", "ChangeLog", "DashboardWidget", "BillingRun", "TicketEvent", "SurveyRecipient"}
_seq = itertools.count(1)


def _views(app):
    pages = {}
    for view in app.appbuilder.baseviews:
        if isinstance(view, CrmModelView):
            model = view.datamodel.obj
            pages.setdefault(model.__name__, view)
            if type(view).__name__ == f"{model.__name__}View":
                pages[model.__name__] = view  # the model's own page before its narrowed lists
    apis = {type(api).__name__[:-3]: api for api in app.appbuilder.baseviews if isinstance(api, CrmModelApi)}
    return pages, apis


def _narrowed_lists(app, model_name):
    """The other list pages of a model (我的待办, 我登记的工单, 待处理诉求 …): each is a path of its own."""
    own, _apis = _views(app)
    return [
        view
        for view in app.appbuilder.baseviews
        if isinstance(view, CrmModelView)
        and view.datamodel.obj.__name__ == model_name
        and view is not own.get(model_name)
    ]


def _make_it_the_readers(model, record, user):
    """The record is the reader's own (logged by them, given to them), so that lists narrowed to their
    own records show it too."""
    own = {column: user.id for column in ("created_by_id", "assignee_id") if column in model.__table__.columns}
    if own:
        db.session.execute(update(model).where(model.id == record.id).values(own))
        db.session.commit()


def _value_for(column, model):
    info = column.info
    if "choices" in info:
        return info["choices"].codes[0]
    check = info.get("check")
    if check == "phone":
        return factories.phone()
    kind = type(column.type)
    if isinstance(column.type, Boolean):
        return False
    if isinstance(column.type, Integer):
        return 1
    if isinstance(column.type, Numeric):
        return Decimal("1.00")
    if isinstance(column.type, DateTime) or kind.__name__ == "UTCDateTime":
        return datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    if isinstance(column.type, Date):
        return datetime.date(2026, 1, 1)
    if check == "period":
        return "2026-01"
    value = f"{model.__name__[:8]}{next(_seq)}"
    length = getattr(column.type, "length", None)
    return value[-length:] if length else value


def make(model):
    """A committed record of ``model`` with its required columns and relations filled."""
    maker = MAKERS.get(model.__name__)
    if maker is not None:
        return maker()
    values = {}
    for column in model.__table__.columns:
        if column.primary_key or column.nullable or column.default is not None or column.server_default is not None:
            continue
        fks = list(column.foreign_keys)
        if fks:
            target = next(m.class_ for m in db.Model.registry.mappers if m.local_table is fks[0].column.table)
            values[column.key] = make(target).id
        else:
            values[column.key] = _value_for(column, model)
    record = model(**values)
    db.session.add(record)
    db.session.commit()
    return record


def _user(role):
    from flask_appbuilder.security.sqla.models import User

    from tests.conftest import ROLE_USERS

    return db.session.query(User).filter_by(username=ROLE_USERS[role]).one()


MAKERS = {
    "Customer": lambda: factories.customer(),
    "Ticket": lambda: factories.ticket(),
    "Bill": lambda: factories.bill(),
    "Unit": lambda: factories.unit(),
    "Building": lambda: factories.building(),
    "Tag": lambda: factories.tag(),
    "Department": lambda: factories.department(),
    # rows `crm init` creates once (each test starts with them): one of them
    "SlaPolicy": lambda: db.session.query(models.SlaPolicy).first(),
    "SystemSetting": lambda: db.session.query(models.SystemSetting).first(),
    "SeededDefault": lambda: db.session.query(models.SeededDefault).first(),
    "LoginNameLock": lambda: _committed(models.LoginNameLock(name_hash="0" * 64, failed_logins=1)),
}


def _committed(record):
    db.session.add(record)
    db.session.commit()
    return record


def text_fields(view):
    """The text columns a page shows (its own, not through a relation), that are not codes of a choice."""
    model = view.datamodel.obj
    shown = set(view.list_columns) | set(view.show_columns)
    fields = []
    for column in model.__table__.columns:
        if column.key not in shown or column.foreign_keys or "choices" in column.info:
            continue
        if isinstance(column.type, (String, Text)) and not column.info.get("file"):
            fields.append(column.key)
    return fields


def _secret(column):
    """A value found nowhere else, that fits the column (PostgreSQL enforces lengths)."""
    n = next(_seq)
    length = getattr(column.type, "length", None)
    if length and length < 10:
        return f"Q{n:0{length - 1}d}"
    return f"机密{n:06d}值"


def _model_names():
    from app import models

    return sorted(
        name
        for name, obj in vars(models).items()
        if isinstance(obj, type) and hasattr(obj, "__table__") and obj.__module__.startswith("app.")
    )


def _contains(response, value):
    return value in response.get_data(as_text=True)


@pytest.mark.parametrize("model_name", _model_names())
def test_no_protected_value_leaves_the_server_in_clear(app, ctx, login, model_name):
    from app.policy.permissions import ACTION_EXPORT, ACTION_READ

    pages, apis = _views(app)
    view, api = pages.get(model_name), apis.get(model_name)
    if view is None or model_name in NOT_PERSONAL:
        assert model_name in NOT_PERSONAL or view is None
        return  # no page shows this model's records to staff
    sm = app.appbuilder.sm
    readers = [
        r
        for r in READERS
        if any(p.permission.name == ACTION_READ and p.view_menu.name == model_name for p in sm.find_role(r).permissions)
    ]
    if not readers:
        return  # only administrators read it, and they see every field
    role = readers[0]
    role_id = sm.find_role(role).id
    model = view.datamodel.obj
    record = make(model)
    _make_it_the_readers(model, record, _user(role))
    narrowed = _narrowed_lists(app, model_name)
    may_export = any(
        p.permission.name == ACTION_EXPORT and p.view_menu.name == model_name for p in sm.find_role(role).permissions
    )
    client = login(role)
    endpoint = type(view).__name__.lower()
    leaks = []
    for field in text_fields(view):
        for level in LEVELS:
            secret = _secret(model.__table__.columns[field])
            db.session.execute(update(model).where(model.id == record.id).values({field: secret}))
            db.session.add(FieldPermission(role_id=role_id, resource=model_name, field=field, level=level))
            db.session.commit()
            paths = {
                "list": client.get(f"/{endpoint}/list/"),
                "show": show_page(client, f"/{endpoint}/show/{record.id}"),
            }
            for other in narrowed:
                paths[f"{type(other).__name__} list"] = client.get(f"/{type(other).__name__.lower()}/list/")
            if api is not None:
                paths["api list"] = client.get(f"/api/v1/{api.resource_name}/")
                paths["api show"] = client.get(f"/api/v1/{api.resource_name}/{record.id}")
            if may_export:
                download = client.get(f"/{endpoint}/export/")
                cells = (
                    [
                        str(c.value)
                        for row in openpyxl.load_workbook(io.BytesIO(download.data)).active.iter_rows()
                        for c in row
                    ]
                    if download.status_code == 200
                    else []
                )
                if secret in cells:
                    leaks.append((field, level, "export"))
            for name, response in paths.items():
                if _contains(response, secret):
                    leaks.append((field, level, name))
            if field in getattr(view, "quick_search", ()):
                found = client.get(f"/{endpoint}/list/?q={secret}").get_data(as_text=True).count(f"/{endpoint}/show/")
                wrong = client.get(f"/{endpoint}/list/?q=不存在的值").get_data(as_text=True).count(f"/{endpoint}/show/")
                if found != wrong:
                    leaks.append((field, level, "quick search"))
            db.session.query(FieldPermission).delete()
            db.session.commit()
    assert leaks == [], f"{role} reads protected values of {model_name}: {leaks}"


def test_the_narrowed_ticket_lists_show_the_readers_record(app, ctx, login):
    """The matrix reads 我的待办 and 我登记的工单 with a record they list: their checks are not vacuous."""
    record = make(models.Ticket)
    _make_it_the_readers(models.Ticket, record, _user("Service"))
    client = login("Service")
    names = {type(view).__name__ for view in _narrowed_lists(app, "Ticket")}
    assert {"MyTodoView", "LoggedByMeView"} <= names
    for name in ("MyTodoView", "LoggedByMeView"):
        assert f"/{name.lower()}/show/{record.id}" in client.get(f"/{name.lower()}/list/").get_data(as_text=True)
