"""The change history: every create, change and delete on every path, with who did it."""

import json
import re

from app.extensions import db
from app.models import ChangeLog, Notification
from tests import factories


def entries(resource, record_id):
    return db.session.query(ChangeLog).filter_by(resource=resource, record_id=record_id).order_by(ChangeLog.id).all()


def test_a_page_edit_records_old_and_new_values_and_who(login, ctx, user_id):
    customer = factories.customer(name="原名字")
    login("Service").post(
        f"/customerview/edit/{customer.id}",
        data={
            "name": "新名字",
            "phone": customer.phone,
            "gender": "unknown",
            "type": "owner",
            "status": "active",
            "preferred_channel": "sms",
        },
    )
    [created, changed] = entries("Customer", customer.id)
    assert created.action == "create" and created.actor_id is None  # made by the test's factory
    assert (changed.action, changed.actor_id) == ("update", user_id("Service"))
    assert json.loads(changed.changes) == {"name": ["原名字", "新名字"]}


def test_api_creates_and_deletes_are_recorded(admin_client, ctx, user_id):
    response = admin_client.post("/api/v1/tag/", json={"name": "独居老人", "color": "#aa3300"})
    tag_id = response.get_json()["id"]
    admin_client.delete(f"/api/v1/tag/{tag_id}")
    assert [(e.action, e.actor_id) for e in entries("Tag", tag_id)] == [
        ("create", user_id("Admin")),
        ("delete", user_id("Admin")),
    ]
    assert json.loads(entries("Tag", tag_id)[0].changes)["name"] == [None, "独居老人"]


def test_tags_added_and_removed_are_recorded(admin_client, ctx):
    old, new = factories.tag(name="旧标签"), factories.tag(name="VIP")
    customer = factories.customer(tags=[old])
    admin_client.post(
        f"/customerview/batch/?ids={customer.id}",
        data={"apply_add_tags": "1", "add_tags": [str(new.id)], "apply_remove_tags": "1", "remove_tags": [str(old.id)]},
    )
    last = entries("Customer", customer.id)[-1]
    assert json.loads(last.changes)["tags"] == {"added": ["VIP"], "removed": ["旧标签"]}


def test_a_batch_edit_is_recorded_per_record(admin_client, ctx, user_id):
    customers = [factories.customer() for _ in range(5)]
    ids = ",".join(str(c.id) for c in customers)
    admin_client.post(f"/customerview/batch/?ids={ids}", data={"apply_status": "1", "status": "moved_out"})
    for customer in customers:
        last = entries("Customer", customer.id)[-1]
        assert (last.action, last.actor_id, json.loads(last.changes)) == (
            "update",
            user_id("Admin"),
            {"status": ["active", "moved_out"]},
        )


def test_logs_and_notices_are_not_themselves_logged(ctx, user_id):
    db.session.add(Notification(user_id=user_id("Service"), title="x"))
    db.session.commit()
    assert db.session.query(ChangeLog).filter_by(resource="Notification").count() == 0


def test_a_records_history_page_is_for_those_who_may_read_the_log(login, ctx):
    customer = factories.customer(name="查看历史")
    customer.name = "查看历史（改）"
    db.session.commit()
    page = login("Admin").get(f"/changelogview/record/Customer/{customer.id}").get_data(as_text=True)
    assert re.search(r"查看历史\s*→\s*查看历史（改）", page)  # the old value, though the record had expired
    assert re.search(r"—\s*→\s*业主", page)  # choices read as their labels
    assert login("Service").get(f"/changelogview/record/Customer/{customer.id}").status_code in (302, 403)


def test_logins_failures_locks_exports_and_jobs_are_logged(app, ctx, login):
    from tests.conftest import ROLE_USERS

    username = ROLE_USERS["Technician"]
    for _ in range(5):
        app.test_client().post("/login/", data={"username": username, "password": "wrong-password-1"})
    login("Manager").get("/customerview/export/")
    actions = [e.action for e in db.session.query(ChangeLog).order_by(ChangeLog.id)]
    assert actions.count("login_failed") == 5 and "locked" in actions
    assert "login" in actions and "export" in actions
    failure = db.session.query(ChangeLog).filter_by(action="login_failed").first()
    assert failure.ip == "127.0.0.1" and failure.summary == username

    from app.jobs import auto_close

    import datetime

    factories.ticket(status="cancelled")
    assert auto_close(app) == 0  # nothing to do: not worth a line
    assert db.session.query(ChangeLog).filter_by(action="job").count() == 0
    factories.ticket(
        status="resolved",
        resolution="已修复",
        resolved_at=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=30),
    )
    assert auto_close(app) == 1
    assert db.session.query(ChangeLog).filter_by(action="job", resource="auto_close").one().summary == "1"


def test_role_and_account_changes_are_logged_without_passwords(app, ctx, login, user_id):
    sm = app.appbuilder.sm
    role = sm.find_role("Technician")
    permission = sm.find_permission_view_menu("can_read", "Bill")
    client = login("Admin")
    role.permissions.append(permission)
    db.session.commit()
    entry = (
        db.session.query(ChangeLog).filter_by(resource="Role", record_id=role.id).order_by(ChangeLog.id.desc()).first()
    )
    # the permission as the role pages name it (app.policy.permission_labels)
    assert json.loads(entry.changes)["permissions"]["added"] == ["收费管理 › 账单：查看"]
    role.permissions.remove(permission)
    db.session.commit()
    sm.reset_password(user_id("Service"), "Another-pass-2026")
    from tests.conftest import PASSWORD

    sm.reset_password(user_id("Service"), PASSWORD)
    logged = db.session.query(ChangeLog).filter_by(resource="User").all()
    assert all("password" not in (e.changes or "") for e in logged)
    assert client.get("/customerview/list/").status_code == 200


def test_every_model_declares_whether_it_is_audited(app):
    """Auditing is a declaration on each app model (``__audited__``), never where the class lives."""
    from flask_appbuilder.models.sqla import Model

    from app import models
    from app.policy.audit import audited

    for mapper in Model.registry.mappers:
        model = mapper.class_
        if not model.__module__.startswith("app."):
            continue
        assert isinstance(vars(model).get("__audited__"), bool), f"{model.__name__} does not declare __audited__"
        assert audited(model.__new__(model)) is model.__audited__
    assert audited(models.Ticket.__new__(models.Ticket)) and not audited(models.TicketEvent.__new__(models.TicketEvent))
