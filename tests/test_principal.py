"""The principal: who is acting decides the rows and the rules, whatever authenticated the request.

Row scope through a session cookie and a bearer token alike; a role an admin copies in the UI
behaves exactly like the original; nobody signed in reaches no scoped row; jobs acting for a user
get that user's scope.
"""

import datetime
from decimal import Decimal

import pytest
from sqlalchemy import update

from app.care import contracts
from app.billing.bills import check_write_off_decision
from app.core.errors import NotAllowed
from app.extensions import db
from app.models import Contract, FieldPermission, StaffProfile, Ticket
from app.policy.principal import SYSTEM, acting_as, current_principal, principal_for
from tests import factories
from tests.conftest import PASSWORD, ROLE_USERS


@pytest.fixture(autouse=True)
def remove_extra_accounts(app):
    """Accounts and roles live outside the per-test clean-up: remove those a test made."""
    yield
    from flask_appbuilder.security.sqla.models import Role, User

    with app.app_context():
        db.session.rollback()
        for user in db.session.query(User).filter(User.username.notin_(ROLE_USERS.values())):
            db.session.delete(user)
        for role in db.session.query(Role).filter(Role.name.notin_([*ROLE_USERS, "Public"])):
            db.session.delete(role)
        db.session.commit()


def bearer(app, username):
    response = app.test_client().post(
        "/api/v1/security/login", json={"username": username, "password": PASSWORD, "provider": "db"}
    )
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def titles(response):
    assert response.status_code == 200, response.get_json()
    return sorted(row["title"] for row in response.get_json()["result"])


def test_a_technicians_token_sees_what_their_cookie_sees(app, login, two_departments):
    mine, pool, colleague, other = two_departments
    token = bearer(app, ROLE_USERS["Technician"])
    client = app.test_client()
    assert titles(client.get("/api/v1/ticket/", headers=token)) == ["我的工单", "本部门待派"]
    assert titles(login("Technician").get("/api/v1/ticket/")) == ["我的工单", "本部门待派"]
    for hidden in (colleague, other):
        assert client.get(f"/api/v1/ticket/{hidden.id}", headers=token).status_code == 404
        assert client.put(f"/api/v1/ticket/{hidden.id}", json={"title": "改"}, headers=token).status_code == 404
    db.session.expire_all()
    assert db.session.get(Ticket, other.id).title == "外部门工单"


def test_a_supervisors_token_cannot_change_another_departments_ticket(app, two_departments):
    mine, pool, colleague, other = two_departments
    token = bearer(app, ROLE_USERS["Supervisor"])
    client = app.test_client()
    assert titles(client.get("/api/v1/ticket/", headers=token)) == ["同事的工单", "我的工单", "本部门待派"]
    assert client.put(f"/api/v1/ticket/{other.id}", json={"title": "越权修改"}, headers=token).status_code == 404
    assert client.put(f"/api/v1/ticket/{pool.id}", json={"title": "本部门改名"}, headers=token).status_code == 200
    db.session.expire_all()
    assert db.session.get(Ticket, other.id).title == "外部门工单"
    assert db.session.get(Ticket, pool.id).title == "本部门改名"


def test_a_bad_token_reaches_no_row(app, two_departments):
    response = app.test_client().get("/api/v1/ticket/", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code in (401, 422)
    assert "外部门工单" not in response.get_data(as_text=True)


def test_nobody_signed_in_reaches_no_ticket(app, two_departments):
    from flask_appbuilder.security.sqla.models import User

    with app.test_request_context("/"):
        principal = current_principal()
        assert principal.kind == "anonymous"
        assert db.session.query(Ticket).count() == 0
        assert db.session.query(User).count() > 0  # accounts are not rows of a scope
        with acting_as(SYSTEM):  # a job, or a public page opened by a signed link
            assert db.session.query(Ticket).count() == 4


def copy_role(admin_client, app, original):
    """Copy a role the way an admin does it on the role page (FAB's 'copy role' action)."""
    sm = app.appbuilder.sm
    role = sm.find_role(original)
    response = admin_client.post("/roles/action_post", data={"action": "copyrole", "rowid": [role.id]})
    assert response.status_code == 302
    copy = sm.find_role(f"{original} copy")
    assert copy is not None and {p.id for p in copy.permissions} == {p.id for p in role.permissions}
    levels = {(f.resource, f.field, f.level) for f in db.session.query(FieldPermission).filter_by(role_id=role.id)}
    assert {
        (f.resource, f.field, f.level) for f in db.session.query(FieldPermission).filter_by(role_id=copy.id)
    } == levels
    return copy


def user_with_role(app, username, role):
    sm = app.appbuilder.sm
    return sm.add_user(username, username, "复制", f"{username}@example.com", role, PASSWORD)


@pytest.mark.parametrize("original", ["Technician", "Supervisor", "Service", "Manager"])
def test_a_copied_role_sees_the_same_tickets_as_the_original(
    app, admin_client, login, two_departments, user_id, original
):
    copy = copy_role(admin_client, app, original)
    username = f"copy-{original.lower()}"
    new_user = user_with_role(app, username, copy)
    original_id = user_id(original)
    # the copy works in the same department as the original account
    profile = db.session.query(StaffProfile).filter_by(user_id=original_id).one_or_none()
    if profile is not None:
        db.session.add(StaffProfile(user_id=new_user.id, department_id=profile.department_id, max_open_tickets=0))
    db.session.commit()

    # tickets assigned to the original are assigned to the copy too, so "own" means the same rows
    def reassign(old, new):  # as data, beside the ticket rules: only who "own" means changes
        db.session.execute(update(Ticket).where(Ticket.assignee_id == old).values(assignee_id=new))
        db.session.commit()

    reassign(original_id, new_user.id)
    seen_by_copy = titles(app.test_client().get("/api/v1/ticket/", headers=bearer(app, username)))
    reassign(new_user.id, original_id)
    assert seen_by_copy == titles(login(original).get("/api/v1/ticket/"))


def test_a_copied_supervisor_role_approves_like_a_supervisor(app, admin_client, ctx, now, today):
    copy = copy_role(admin_client, app, "Supervisor")
    approver = user_with_role(app, "copy-approver", copy)
    clerk = app.appbuilder.sm.find_user(username=ROLE_USERS["Service"])
    db.session.commit()
    contract = Contract(
        number="HT-C-1",
        title="租赁",
        kind="lease",
        customer=factories.customer(),
        start_date=today,
        end_date=today + datetime.timedelta(days=365),
        amount=Decimal("5000"),
        status="pending",
    )
    db.session.add(contract)
    db.session.commit()
    with pytest.raises(NotAllowed):
        contracts.approve(db.session, contract, clerk, now, today)
    contracts.approve(db.session, contract, approver, now, today)
    assert contract.status == "active"
    assert principal_for(db.session, approver).may("can_approve", "Renovation")


def test_a_copied_role_keeps_the_field_levels_of_the_original(app, admin_client, login, ctx):
    customer = factories.customer(name="林黛玉", phone="13812341234")
    technician = app.appbuilder.sm.find_role("Technician")
    db.session.add(FieldPermission(role_id=technician.id, resource="Customer", field="phone", level="hidden"))
    db.session.commit()
    copy = copy_role(admin_client, app, "Technician")
    user_with_role(app, "copy-fields", copy)
    db.session.commit()
    response = app.test_client().get(f"/api/v1/customer/{customer.id}", headers=bearer(app, "copy-fields"))
    assert response.status_code == 200 and "13812341234" not in response.get_data(as_text=True)


def test_a_role_without_the_scope_permission_sees_only_its_own_tickets(app, admin_client, two_departments, user_id):
    """A new role given read on tickets but no scope: unknown means the narrowest scope, not everything."""
    sm = app.appbuilder.sm
    role = sm.add_role("只读工单")
    sm.add_permission_role(role, sm.find_permission_view_menu("can_read", "Ticket"))
    user_with_role(app, "reader", role)
    db.session.commit()
    assert titles(app.test_client().get("/api/v1/ticket/", headers=bearer(app, "reader"))) == []


def test_write_off_approval_is_a_permission(app, ctx, user_id, now):
    from flask_appbuilder.security.sqla.models import User

    service = db.session.get(User, user_id("Service"))
    supervisor = db.session.get(User, user_id("Supervisor"))
    assert not principal_for(db.session, service).may("can_approve", "WriteOff")
    assert principal_for(db.session, supervisor).may("can_approve", "WriteOff")
    assert check_write_off_decision  # the rule reads the permission (tests/test_billing.py covers its paths)
