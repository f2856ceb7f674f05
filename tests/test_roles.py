"""Built-in roles: exact permission sets, and what each role can and cannot do on pages and API."""

import re

import pytest

from app.cli import setup_database
from app.extensions import db
from app.models import Customer
from tests import factories
from tests.conftest import PASSWORD

R, C, E, D, X = "can_read", "can_create", "can_edit", "can_delete", "can_export"

EXPECTED = {
    "Manager": {
        **{
            res: {R, X}
            for res in [
                "Building",
                "Unit",
                "Customer",
                "CustomerUnit",
                "Tag",
                "Department",
                "StaffProfile",
                "Ticket",
                "TicketAttachment",
                "TicketEvent",
                "Communication",
                "Bill",
                "Payment",
                "DispatchRule",
                "DutyShift",
                "SlaPolicy",
                "TicketRating",
                "MessageTemplate",
                "OutboxMessage",
                "FeeRule",
                "MeterReading",
                "BillingRun",
                "WriteOff",
                "Broadcast",
                "Supplier",
                "Contract",
                "ContractReminder",
                "ReturnVisitRule",
                "ReturnVisit",
                "Survey",
                "SurveyQuestion",
                "SurveyRecipient",
                "Equipment",
                "MaintenancePlan",
                "MaintenanceOccurrence",
                "Holiday",
                "Renovation",
                "Activity",
                "ActivitySignUp",
            ]
        },
        "Lookup": {R},
        "Performance": {R},
        "Arrears": {R},
        "CareReminders": {R},
        "Dashboard": {R},
        "Report": {R, X},
        "Escalation": {"can_receive_level_2"},
        "Ticket": {R, X, "can_see_all"},
        "OutboxMessage": {R, X, "can_see_all"},
    },
    "Supervisor": {
        "Building": {R},
        "Unit": {R},
        "Customer": {R},
        "CustomerUnit": {R},
        "Tag": {R},
        "Department": {R},
        "StaffProfile": {R, E, "can_see_department"},
        "Ticket": {R, C, E, "can_see_department", "can_manage"},
        "TicketAttachment": {R, C},
        "Escalation": {"can_receive_level_1"},
        "TicketEvent": {R},
        "Communication": {R, C},
        "Bill": {R},
        "Payment": {R, "can_reverse"},
        "Lookup": {R},
        "DutyShift": {R, C, E, D},
        "DispatchRule": {R},
        "SlaPolicy": {R},
        "TicketRating": {R, C},
        "Performance": {R},
        "OutboxMessage": {R, E},
        "WriteOff": {R, C, "can_approve"},
        "FeeRule": {R},
        "MeterReading": {R},
        "BillingRun": {R},
        "Arrears": {R},
        "Broadcast": {R},
        "Supplier": {R, C, E},
        "Contract": {R, C, E, "can_approve"},
        "ContractReminder": {R},
        "ReturnVisitRule": {R, C, E, D},
        "ReturnVisit": {R, E, X},
        "Survey": {R, X},
        "SurveyQuestion": {R},
        "SurveyRecipient": {R},
        "Equipment": {R, C, E},
        "MaintenancePlan": {R, C, E, D},
        "MaintenanceOccurrence": {R, E},
        "Holiday": {R, C, E, D},
        "CareReminders": {R, E},
        "Renovation": {R, C, E, "can_approve"},
        "Activity": {R, C, E},
        "ActivitySignUp": {R, E},
        "Dashboard": {R},
        "Report": {R},
    },
    "Service": {
        "Building": {R},
        "Unit": {R, C, E},
        "Customer": {R, C, E},
        "CustomerUnit": {R, C, E, D},
        "Import": {"can_import"},
        "Tag": {R},
        "Department": {R},
        "Ticket": {R, C, E, "can_see_all", "can_manage"},
        "TicketAttachment": {R, C},
        "TicketEvent": {R},
        "Communication": {R, C, E},
        "Bill": {R},
        "Payment": {R, C},
        "Lookup": {R},
        "TicketRating": {R, C},
        "OutboxMessage": {R, "can_see_all"},
        "WriteOff": {R, C},
        "MeterReading": {R, C, E},
        "FeeRule": {R},
        "BillingRun": {R},
        "Arrears": {R},
        "Broadcast": {R, C, E},
        "Supplier": {R, C, E},
        "Contract": {R, C, E},
        "ContractReminder": {R},
        "ReturnVisitRule": {R},
        "ReturnVisit": {R, E},
        "Survey": {R, C, E, X},
        "SurveyQuestion": {R, C, E, D},
        "SurveyRecipient": {R},
        "Equipment": {R},
        "MaintenancePlan": {R},
        "MaintenanceOccurrence": {R},
        "Holiday": {R, C, E},
        "CareReminders": {R, E},
        "Renovation": {R, C, E},
        "Activity": {R, C, E},
        "ActivitySignUp": {R, E},
    },
    "Technician": {
        "Building": {R},
        "Unit": {R},
        "Customer": {R},
        "Department": {R},
        "Ticket": {R, E},
        "TicketAttachment": {R, C},
        "TicketEvent": {R},
        "Lookup": {R},
        "Equipment": {R},
        "MaintenancePlan": {R},
        "MaintenanceOccurrence": {R, E},
        "Renovation": {R},
    },
}


for _expected in EXPECTED.values():
    _expected["OpenApi"] = {"can_get"}
    _expected["ResetMyPasswordView"] = {"can_this_form_get", "can_this_form_post"}
    _expected["UserDBModelView"] = {"can_userinfo", "resetmypassword"}


@pytest.mark.parametrize("role_name", sorted(EXPECTED))
def test_role_has_exactly_its_built_in_permissions(app, role_name):
    with app.app_context():
        role = app.appbuilder.sm.find_role(role_name)
        actual = {}
        for pv in role.permissions:
            if pv.permission.name != "menu_access":
                actual.setdefault(pv.view_menu.name, set()).add(pv.permission.name)
    assert actual == EXPECTED[role_name]


def test_roles_sync_is_idempotent_and_keeps_ui_edits(app):
    with app.app_context():
        sm = app.appbuilder.sm
        role = sm.find_role("Technician")
        before = {p.id for p in role.permissions}
        extra = sm.find_permission_view_menu("can_read", "Bill")
        role.permissions.append(extra)
        db.session.commit()
        sm.sync_roles()
        assert {p.id for p in sm.find_role("Technician").permissions} == before | {extra.id}
        sm.sync_roles(reset=True)
        assert {p.id for p in sm.find_role("Technician").permissions} == before


def test_pages_new_to_an_install_reach_existing_roles_but_removed_rights_stay_removed(app):
    with app.app_context():
        sm = app.appbuilder.sm
        dashboard = sm.find_permission_view_menu("can_read", "Dashboard")
        role = sm.find_role("Manager")
        role.permissions.remove(dashboard)
        db.session.commit()
        sm.sync_roles()  # the dashboard is known to this install: an admin took it away, it stays away
        assert dashboard not in sm.find_role("Manager").permissions
        sm.sync_roles(new_resources={"Dashboard"})  # an upgrade that brings the dashboard grants it
        assert dashboard in sm.find_role("Manager").permissions
        assert sm.find_permission_view_menu("menu_access", "Dashboard") in sm.find_role("Manager").permissions


ROLES = ["Admin", "Manager", "Supervisor", "Service", "Technician"]

# (url, roles allowed) for pages read with GET
PAGE_ACCESS = [
    ("/customerview/list/", ROLES),
    ("/customerview/add", ["Admin", "Service"]),
    ("/ticketview/list/", ROLES),
    ("/ticketview/add", ["Admin", "Supervisor", "Service"]),
    ("/billview/list/", ["Admin", "Manager", "Supervisor", "Service"]),
    ("/paymentview/add", ["Admin", "Service"]),  # the front desk collects fees
    ("/writeoffview/list/", ["Admin", "Manager", "Supervisor", "Service"]),
    ("/arrears/", ["Admin", "Manager", "Supervisor", "Service"]),
    ("/billingrunview/generate", ["Admin"]),
    ("/staffprofileview/list/", ["Admin", "Manager", "Supervisor"]),
    ("/tagview/add", ["Admin"]),
    ("/users/list/", ["Admin"]),
    ("/roles/list/", ["Admin"]),
]


@pytest.mark.parametrize("url,allowed", PAGE_ACCESS)
@pytest.mark.parametrize("role", ROLES)
def test_page_access_by_role(login, url, allowed, role):
    response = login(role).get(url)
    if role in allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", ROLES)
def test_api_access_by_role(login, role):
    client = login(role)
    may_read_bills = role in ("Admin", "Manager", "Supervisor", "Service")
    assert (client.get("/api/v1/bill/").status_code == 200) == may_read_bills
    assert client.get("/api/v1/ticket/").status_code == 200
    response = client.post("/api/v1/tag/", json={"name": f"api-{role}", "color": "#123456"})
    assert (response.status_code == 201) == (role == "Admin")
    if role != "Admin":
        assert response.status_code == 403


def test_anonymous_gets_401_from_the_api_and_the_login_page_from_pages(app):
    client = app.test_client()
    assert client.get("/api/v1/customer/").status_code == 401
    response = client.get("/customerview/list/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("role,can_delete", [("Admin", True), ("Service", False), ("Manager", False)])
def test_only_admins_delete_customers_page_and_api(login, ctx, role, can_delete):
    first, second = factories.customer(), factories.customer()
    client = login(role)
    client.post(f"/customerview/delete/{first.id}")
    api = client.delete(f"/api/v1/customer/{second.id}")
    db.session.expire_all()
    assert (db.session.get(Customer, first.id) is None) == can_delete
    assert (db.session.get(Customer, second.id) is None) == can_delete
    assert api.status_code == (200 if can_delete else 403)


@pytest.mark.parametrize("role,can_edit", [("Service", True), ("Technician", False), ("Manager", False)])
def test_who_may_edit_customers_page_and_api(login, ctx, role, can_edit):
    customer = factories.customer(name="原名")
    client = login(role)
    client.post(
        f"/customerview/edit/{customer.id}",
        data={
            "name": "页面改名",
            "phone": customer.phone,
            "gender": "unknown",
            "type": "owner",
            "status": "active",
            "preferred_channel": "sms",
        },
    )
    db.session.expire_all()
    assert (db.session.get(Customer, customer.id).name == "页面改名") == can_edit
    response = client.put(f"/api/v1/customer/{customer.id}", json={"name": "接口改名"})
    assert response.status_code == (200 if can_edit else 403)


def test_technician_works_tickets_but_cannot_create_them(login, ctx, user_id):
    ticket = factories.ticket(assignee_id=user_id("Technician"), status="new")
    client = login("Technician")
    assert client.put(f"/api/v1/ticket/{ticket.id}", json={"status": "in_progress"}).status_code == 200
    assert client.post("/api/v1/ticket/", json={"title": "新工单"}).status_code == 403


def test_menu_shows_only_what_a_role_may_read(login):
    page = login("Technician").get("/ticketview/list/").get_data(as_text=True)
    assert "/billview/list/" not in page
    assert "/customerview/list/" in page


def test_the_menu_follows_a_role_edited_between_two_pages_and_the_language(app, login):
    """The rendered menu bar is reused between pages; an admin's change to a role shows at the next page."""
    technician = login("Technician")
    assert "/billview/list/" not in technician.get("/ticketview/list/").get_data(as_text=True)
    with app.app_context():
        sm = app.appbuilder.sm
        role = sm.find_role("Technician")
        sm.add_permission_role(role, sm.find_permission_view_menu("menu_access", "Bills"))
        sm.add_permission_role(role, sm.find_permission_view_menu("menu_access", "Billing"))
    page = technician.get("/ticketview/list/").get_data(as_text=True)
    assert "/billview/list/" in page and re.search(r"\s工单</a>", page)
    with app.app_context():
        sm = app.appbuilder.sm
        role = sm.find_role("Technician")
        sm.del_permission_role(role, sm.find_permission_view_menu("menu_access", "Bills"))
    assert "/billview/list/" not in technician.get("/ticketview/list/").get_data(as_text=True)
    technician.get("/lang/en")
    english = technician.get("/ticketview/list/").get_data(as_text=True)
    assert re.search(r"\sTickets</a>", english) and not re.search(r"\s工单</a>", english)


def test_the_kept_navigation_bar_names_who_is_signed_in(app, login):
    """Two accounts of one role share the menu but not the name in the bar; a rename shows at once."""
    with app.app_context():
        sm = app.appbuilder.sm
        sm.add_user("wangfang", "芳", "王", "wangfang@example.com", sm.find_role("Service"), PASSWORD)
        db.session.commit()
    try:
        wangfang = app.test_client()
        assert wangfang.post("/login/", data={"username": "wangfang", "password": PASSWORD}).status_code == 302
        mine, theirs = login("Service").get("/customerview/list/"), wangfang.get("/customerview/list/")
        assert "王芳" in theirs.get_data(as_text=True) and "王芳" not in mine.get_data(as_text=True)
        with app.app_context():
            user = app.appbuilder.sm.find_user(username="wangfang")
            user.first_name = "芳芳"
            db.session.commit()
        assert "王芳芳" in wangfang.get("/customerview/list/").get_data(as_text=True)
    finally:
        with app.app_context():
            db.session.delete(app.appbuilder.sm.find_user(username="wangfang"))
            db.session.commit()


def test_a_row_scope_right_an_admin_took_from_every_role_stays_away_across_restarts(app):
    """Each start runs `crm init`. A right of our own on a page's resource (here: every ticket) that no
    role holds any more must survive as a right an admin can grant again, and not come back by itself."""
    with app.app_context():
        sm = app.appbuilder.sm
        right = sm.find_permission_view_menu("can_see_all", "Ticket")
        holders = [role for role in sm.get_all_roles() if right in role.permissions]
        assert holders
        try:
            for role in holders:
                role.permissions.remove(right)
            db.session.commit()
            for _start in range(2):
                setup_database()
                db.session.commit()
            kept = sm.find_permission_view_menu("can_see_all", "Ticket")
            assert kept is not None, "the right is gone from the role editor"
            # (FAB's admin role holds every right of every page: it may do everything anyway)
            given_back = [role.name for role in sm.get_all_roles() if kept in role.permissions]
            assert [name for name in given_back if name != sm.auth_role_admin] == []
        finally:
            right = sm.find_permission_view_menu("can_see_all", "Ticket") or sm.add_permission_view_menu(
                "can_see_all", "Ticket"
            )
            for role in holders:
                if right not in role.permissions:
                    role.permissions.append(right)
            db.session.commit()
