"""The one SecurityManager subclass, permission constants and the built-in roles as data.

Pages and REST resources of a model share one permission resource (its model name), so a
role that may edit customers on the page may edit them through the API, and no other way.
"""

from flask import flash, redirect
from flask_appbuilder import BaseView
from flask_appbuilder.actions import action
from flask_appbuilder.security.decorators import has_access, no_cache
from flask_appbuilder.security.forms import LoginForm_db
from flask_appbuilder.security.sqla.apis import GroupApi
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.fields import QuerySelectMultipleField
from flask_appbuilder.fieldwidgets import Select2ManyWidget
from flask_appbuilder.security.views import (
    AuthDBView,
    PermissionViewModelView,
    RoleModelView,
    UserDBModelView,
    UserGroupModelView,
)
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _
from wtforms import BooleanField

from app.policy.principal import ACTION_SEE_ALL, ACTION_SEE_DEPARTMENT, current_principal

ACTION_READ = "can_read"
ACTION_CREATE = "can_create"
ACTION_EDIT = "can_edit"
ACTION_DELETE = "can_delete"
ACTION_EXPORT = "can_export"  # the user manual's "whether a role may export reports"
MENU_ACCESS = "menu_access"

RESOURCE_BUILDING = "Building"
RESOURCE_UNIT = "Unit"
RESOURCE_CUSTOMER = "Customer"
RESOURCE_RESIDENCE = "CustomerUnit"
RESOURCE_TAG = "Tag"
RESOURCE_DEPARTMENT = "Department"
RESOURCE_STAFF = "StaffProfile"
RESOURCE_TICKET = "Ticket"
RESOURCE_TICKET_ATTACHMENT = "TicketAttachment"
RESOURCE_TICKET_EVENT = "TicketEvent"
RESOURCE_COMMUNICATION = "Communication"
RESOURCE_BILL = "Bill"
RESOURCE_PAYMENT = "Payment"
RESOURCE_DISPATCH_RULE = "DispatchRule"
RESOURCE_DUTY_SHIFT = "DutyShift"
RESOURCE_SLA_POLICY = "SlaPolicy"
RESOURCE_TICKET_RATING = "TicketRating"
RESOURCE_PERFORMANCE = "Performance"
RESOURCE_MESSAGE_TEMPLATE = "MessageTemplate"
RESOURCE_OUTBOX = "OutboxMessage"
RESOURCE_FEE_RULE = "FeeRule"
RESOURCE_METER_READING = "MeterReading"
RESOURCE_BILLING_RUN = "BillingRun"
RESOURCE_WRITE_OFF = "WriteOff"
RESOURCE_ARREARS = "Arrears"
RESOURCE_BROADCAST = "Broadcast"
RESOURCE_ACCOUNT_SECURITY = "AccountSecurity"  # admins only
RESOURCE_CHANGE_LOG = "ChangeLog"  # admins only by default: it holds the values of every field
RESOURCE_SUPPLIER = "Supplier"
RESOURCE_CONTRACT = "Contract"
RESOURCE_CONTRACT_REMINDER = "ContractReminder"
RESOURCE_RETURN_VISIT_RULE = "ReturnVisitRule"
RESOURCE_RETURN_VISIT = "ReturnVisit"
RESOURCE_SURVEY = "Survey"
RESOURCE_SURVEY_QUESTION = "SurveyQuestion"
RESOURCE_SURVEY_RECIPIENT = "SurveyRecipient"
RESOURCE_EQUIPMENT = "Equipment"
RESOURCE_MAINTENANCE_PLAN = "MaintenancePlan"
RESOURCE_MAINTENANCE_OCCURRENCE = "MaintenanceOccurrence"
RESOURCE_HOLIDAY = "Holiday"
RESOURCE_CARE_REMINDERS = "CareReminders"
RESOURCE_RENOVATION = "Renovation"
RESOURCE_ACTIVITY = "Activity"
RESOURCE_ACTIVITY_SIGN_UP = "ActivitySignUp"
ACTION_APPROVE = "can_approve"
ACTION_REVERSE = "can_reverse"
RESOURCE_LOOKUP = "Lookup"
RESOURCE_FIELD_PERMISSION = "FieldPermission"
RESOURCE_IMPORT = "Import"
RESOURCE_DASHBOARD = "Dashboard"
RESOURCE_REPORT = "Report"
RESOURCE_DASHBOARD_WIDGET = "DashboardWidget"  # admins define widgets
ACTION_IMPORT = "can_import"
ACTION_MANAGE = "can_manage"  # on Ticket: work any ticket the scope shows, assign and hand it over
# Who is told of escalations (resource Escalation): level 1 in the ticket's department, level 2 anywhere
RESOURCE_ESCALATION = "Escalation"
ACTION_ESCALATION_LEVEL_1 = "can_receive_level_1"
ACTION_ESCALATION_LEVEL_2 = "can_receive_level_2"

CRM_RESOURCES = [
    RESOURCE_BUILDING,
    RESOURCE_UNIT,
    RESOURCE_CUSTOMER,
    RESOURCE_RESIDENCE,
    RESOURCE_TAG,
    RESOURCE_DEPARTMENT,
    RESOURCE_STAFF,
    RESOURCE_TICKET,
    RESOURCE_TICKET_ATTACHMENT,
    RESOURCE_TICKET_EVENT,
    RESOURCE_COMMUNICATION,
    RESOURCE_BILL,
    RESOURCE_PAYMENT,
    RESOURCE_DISPATCH_RULE,
    RESOURCE_DUTY_SHIFT,
    RESOURCE_SLA_POLICY,
    RESOURCE_TICKET_RATING,
    RESOURCE_MESSAGE_TEMPLATE,
    RESOURCE_OUTBOX,
    RESOURCE_FEE_RULE,
    RESOURCE_METER_READING,
    RESOURCE_BILLING_RUN,
    RESOURCE_WRITE_OFF,
    RESOURCE_BROADCAST,
    RESOURCE_SUPPLIER,
    RESOURCE_CONTRACT,
    RESOURCE_CONTRACT_REMINDER,
    RESOURCE_RETURN_VISIT_RULE,
    RESOURCE_RETURN_VISIT,
    RESOURCE_SURVEY,
    RESOURCE_SURVEY_QUESTION,
    RESOURCE_SURVEY_RECIPIENT,
    RESOURCE_EQUIPMENT,
    RESOURCE_MAINTENANCE_PLAN,
    RESOURCE_MAINTENANCE_OCCURRENCE,
    RESOURCE_HOLIDAY,
    RESOURCE_RENOVATION,
    RESOURCE_ACTIVITY,
    RESOURCE_ACTIVITY_SIGN_UP,
]

# Endpoint method -> permission action, for pages and REST APIs alike.
VIEW_METHOD_PERMISSIONS = {
    "list": "read",
    "show": "read",
    "related": "read",
    "download": "read",
    "add": "create",
    "edit": "edit",
    "delete": "delete",
    "action": "edit",
    "action_post": "edit",
    "export": "export",
    "export_selected": "export",
    "batch": "edit",
    "batch_edit": "edit",
    "save_view": "read",
    "delete_saved_view": "read",
    "start": "edit",
    "resend": "edit",
    "approve": "approve",
    "reject": "approve",
    "unlock": "edit",
    "reverse": "reverse",
    "reverse_action": "reverse",
    "generate": "create",
    "report": "read",
    "open_report": "read",
    "schedule": "edit",
    "timeline": "read",
    "open_timeline": "read",
    "record": "read",
    "change_history": "read",
    "submit": "edit",
    "terminate": "approve",
    "send_survey": "edit",
    "send": "edit",
    "close_survey": "edit",
    "results": "read",
    "open_results": "read",
    "export_answers": "export",
    "progress": "read",
    "open_progress": "read",
    "step": "edit",
    "mark_attended": "edit",
    "mark_absent": "edit",
}
API_METHOD_PERMISSIONS = {
    "get": "read",
    "get_list": "read",
    "info": "read",
    "post": "create",
    "put": "edit",
    "delete": "delete",
}

READ = (ACTION_READ,)
READ_CREATE = (ACTION_READ, ACTION_CREATE)
READ_WRITE = (ACTION_READ, ACTION_CREATE, ACTION_EDIT)
FULL = (ACTION_READ, ACTION_CREATE, ACTION_EDIT, ACTION_DELETE)

ROLE_ADMIN = "Admin"
ROLE_MANAGER = "Manager"
ROLE_SUPERVISOR = "Supervisor"
ROLE_SERVICE = "Service"
ROLE_TECHNICIAN = "Technician"

ROLE_LABELS = {
    ROLE_ADMIN: _("System administrator"),
    ROLE_MANAGER: _("Manager"),
    ROLE_SUPERVISOR: _("Department supervisor"),
    ROLE_SERVICE: _("Service desk"),
    ROLE_TECHNICIAN: _("Technician"),
}


def _grant(actions_by_resource):
    return [(action, resource) for resource, actions in actions_by_resource.items() for action in actions]


# Built-in roles (Admin has everything through AUTH_ROLE_ADMIN). Menu access is derived:
# a role sees a menu entry when it may read the entry's resource.
ROLE_CONFIGS = {
    ROLE_MANAGER: _grant({resource: (ACTION_READ, ACTION_EXPORT) for resource in CRM_RESOURCES}),
    ROLE_SUPERVISOR: _grant(
        {
            RESOURCE_BUILDING: READ,
            RESOURCE_UNIT: READ,
            RESOURCE_CUSTOMER: READ,
            RESOURCE_RESIDENCE: READ,
            RESOURCE_TAG: READ,
            RESOURCE_DEPARTMENT: READ,
            RESOURCE_STAFF: (ACTION_READ, ACTION_EDIT),
            RESOURCE_TICKET: READ_WRITE,
            RESOURCE_TICKET_ATTACHMENT: READ_CREATE,
            RESOURCE_TICKET_EVENT: READ,
            RESOURCE_COMMUNICATION: READ_CREATE,
            RESOURCE_BILL: READ,
            RESOURCE_PAYMENT: READ,
            RESOURCE_DUTY_SHIFT: FULL,
            RESOURCE_DISPATCH_RULE: READ,
            RESOURCE_SLA_POLICY: READ,
            RESOURCE_TICKET_RATING: READ_CREATE,
            RESOURCE_OUTBOX: (ACTION_READ, ACTION_EDIT),
            RESOURCE_WRITE_OFF: (ACTION_READ, ACTION_CREATE, ACTION_APPROVE),
            RESOURCE_FEE_RULE: READ,
            RESOURCE_METER_READING: READ,
            RESOURCE_BILLING_RUN: READ,
            RESOURCE_BROADCAST: READ,
            RESOURCE_SUPPLIER: READ_WRITE,
            RESOURCE_CONTRACT: (ACTION_READ, ACTION_CREATE, ACTION_EDIT, ACTION_APPROVE),
            RESOURCE_CONTRACT_REMINDER: READ,
            RESOURCE_RETURN_VISIT_RULE: FULL,
            RESOURCE_RETURN_VISIT: (ACTION_READ, ACTION_EDIT, ACTION_EXPORT),
            RESOURCE_SURVEY: (ACTION_READ, ACTION_EXPORT),
            RESOURCE_SURVEY_QUESTION: READ,
            RESOURCE_SURVEY_RECIPIENT: READ,
            RESOURCE_EQUIPMENT: READ_WRITE,
            RESOURCE_MAINTENANCE_PLAN: FULL,
            RESOURCE_MAINTENANCE_OCCURRENCE: (ACTION_READ, ACTION_EDIT),
            RESOURCE_HOLIDAY: FULL,
            RESOURCE_CARE_REMINDERS: (ACTION_READ, ACTION_EDIT),
            RESOURCE_RENOVATION: READ_WRITE,
        }
    ),
    ROLE_SERVICE: _grant(
        {
            RESOURCE_BUILDING: READ,
            RESOURCE_UNIT: READ_WRITE,
            RESOURCE_CUSTOMER: READ_WRITE,
            RESOURCE_RESIDENCE: FULL,
            RESOURCE_TAG: READ,
            RESOURCE_DEPARTMENT: READ,
            RESOURCE_TICKET: READ_WRITE,
            RESOURCE_TICKET_ATTACHMENT: READ_CREATE,
            RESOURCE_TICKET_EVENT: READ,
            RESOURCE_COMMUNICATION: READ_WRITE,
            RESOURCE_BILL: READ,
            RESOURCE_PAYMENT: READ_CREATE,
            RESOURCE_TICKET_RATING: READ_CREATE,
            RESOURCE_OUTBOX: READ,
            RESOURCE_WRITE_OFF: READ_CREATE,
            RESOURCE_METER_READING: READ_WRITE,
            RESOURCE_FEE_RULE: READ,
            RESOURCE_BILLING_RUN: READ,
            RESOURCE_BROADCAST: READ_WRITE,
            RESOURCE_SUPPLIER: READ_WRITE,
            RESOURCE_CONTRACT: READ_WRITE,
            RESOURCE_CONTRACT_REMINDER: READ,
            RESOURCE_RETURN_VISIT_RULE: READ,
            RESOURCE_RETURN_VISIT: (ACTION_READ, ACTION_EDIT),
            RESOURCE_SURVEY: (ACTION_READ, ACTION_CREATE, ACTION_EDIT, ACTION_EXPORT),
            RESOURCE_SURVEY_QUESTION: FULL,
            RESOURCE_SURVEY_RECIPIENT: READ,
            RESOURCE_EQUIPMENT: READ,
            RESOURCE_MAINTENANCE_PLAN: READ,
            RESOURCE_MAINTENANCE_OCCURRENCE: READ,
            RESOURCE_HOLIDAY: READ_WRITE,
            RESOURCE_CARE_REMINDERS: (ACTION_READ, ACTION_EDIT),
            RESOURCE_RENOVATION: READ_WRITE,
        }
    ),
    ROLE_TECHNICIAN: _grant(
        {
            RESOURCE_BUILDING: READ,
            RESOURCE_UNIT: READ,
            RESOURCE_CUSTOMER: READ,
            RESOURCE_DEPARTMENT: READ,
            RESOURCE_TICKET: (ACTION_READ, ACTION_EDIT),
            RESOURCE_TICKET_ATTACHMENT: READ_CREATE,
            RESOURCE_TICKET_EVENT: READ,
            RESOURCE_EQUIPMENT: READ,
            RESOURCE_MAINTENANCE_PLAN: READ,
            RESOURCE_MAINTENANCE_OCCURRENCE: (ACTION_READ, ACTION_EDIT),
            RESOURCE_RENOVATION: READ,
        }
    ),
}
ROLE_CONFIGS[ROLE_SERVICE].append((ACTION_IMPORT, RESOURCE_IMPORT))
# 社区活动: the desk and supervisors publish activities and mark attendance
for _role in (ROLE_SUPERVISOR, ROLE_SERVICE):
    ROLE_CONFIGS[_role] += _grant(
        {RESOURCE_ACTIVITY: READ_WRITE, RESOURCE_ACTIVITY_SIGN_UP: (ACTION_READ, ACTION_EDIT)}
    )
ROLE_CONFIGS[ROLE_MANAGER].append((ACTION_READ, RESOURCE_PERFORMANCE))
ROLE_CONFIGS[ROLE_MANAGER].append((ACTION_READ, RESOURCE_CARE_REMINDERS))
ROLE_CONFIGS[ROLE_SUPERVISOR].append((ACTION_READ, RESOURCE_PERFORMANCE))
ROLE_CONFIGS[ROLE_SUPERVISOR].append((ACTION_REVERSE, RESOURCE_PAYMENT))
for _role in (ROLE_MANAGER, ROLE_SUPERVISOR, ROLE_SERVICE):
    ROLE_CONFIGS[_role].append((ACTION_READ, RESOURCE_ARREARS))
for _role in (ROLE_MANAGER, ROLE_SUPERVISOR):  # supervisors see their department's numbers (row scoping)
    ROLE_CONFIGS[_role] += [(ACTION_READ, RESOURCE_DASHBOARD), (ACTION_READ, RESOURCE_REPORT)]
ROLE_CONFIGS[ROLE_MANAGER].append((ACTION_EXPORT, RESOURCE_REPORT))
# Row scope and approvals are permissions too (app.policy.principal): a copied role keeps them.
ROLE_CONFIGS[ROLE_MANAGER] += [
    (ACTION_SEE_ALL, RESOURCE_TICKET),
    (ACTION_ESCALATION_LEVEL_2, RESOURCE_ESCALATION),
    (ACTION_SEE_ALL, RESOURCE_OUTBOX),
]
ROLE_CONFIGS[ROLE_SERVICE] += [
    (ACTION_SEE_ALL, RESOURCE_TICKET),
    (ACTION_MANAGE, RESOURCE_TICKET),
    (ACTION_SEE_ALL, RESOURCE_OUTBOX),
]
ROLE_CONFIGS[ROLE_SUPERVISOR] += [
    (ACTION_SEE_DEPARTMENT, RESOURCE_TICKET),
    (ACTION_SEE_DEPARTMENT, RESOURCE_STAFF),
    (ACTION_MANAGE, RESOURCE_TICKET),
    (ACTION_APPROVE, RESOURCE_RENOVATION),
    (ACTION_ESCALATION_LEVEL_1, RESOURCE_ESCALATION),
]
# Everyone signed in may use the searchable selects (each lookup checks the listed resource),
# read the API description (built per user: hidden fields are left out), see their own account
# and change their own password. Added to existing roles by every `crm init`.
EVERYONE = [
    (ACTION_READ, RESOURCE_LOOKUP),
    ("can_get", "OpenApi"),
    ("can_this_form_get", "ResetMyPasswordView"),
    ("can_this_form_post", "ResetMyPasswordView"),
    ("can_userinfo", "UserDBModelView"),
    ("resetmypassword", "UserDBModelView"),
]
for _permissions in ROLE_CONFIGS.values():
    _permissions.extend(EVERYONE)


def _client_ip():
    from flask import has_request_context, request

    return (request.remote_addr or "unknown") if has_request_context() else "local"


def _permission_choices():
    """Every permission, in menu order, with what it needs for its label loaded at once."""
    from flask import current_app
    from sqlalchemy.orm import joinedload

    from app.policy.permission_labels import sorted_permissions

    sm = current_app.appbuilder.sm
    model = sm.permissionview_model
    return sorted_permissions(
        sm.session.query(model).options(joinedload(model.permission), joinedload(model.view_menu)).all()
    )


def _permissions_field():
    from app.policy.permission_labels import permission_label

    return QuerySelectMultipleField(
        _("Permissions"),
        query_func=_permission_choices,
        get_pk_func=lambda pv: pv.id,
        get_label=permission_label,
        widget=Select2ManyWidget(),
    )


class CrmRoleModelView(RoleModelView):
    """FAB's role page; copying a role copies its field levels too (app.policy.field_permissions.copy_role).
    Permissions read "客户管理 › 客户：新增" and come in menu order (app.policy.permission_labels)."""

    class_permission_name = "CrmRoleModelView"
    label_columns = dict(RoleModelView.label_columns, user=_("Users"), groups=_("User groups"))
    add_form_extra_fields = {"permissions": _permissions_field()}
    edit_form_extra_fields = {"permissions": _permissions_field()}

    @action("copyrole", _("Copy Role"), _("Copy the selected roles?"), icon="fa-copy", single=False)
    def copy_role(self, items):
        from app.policy.field_permissions import copy_role

        self.update_redirect()
        for item in items:
            copy_role(self.datamodel.session, item)
        return redirect(self.get_redirect())


def _full_name_fieldsets(fieldsets):
    """FAB's fieldsets with the one full name in place of first and last name."""
    return [
        (
            name,
            dict(
                fields,
                fields=["get_full_name" if f == "first_name" else f for f in fields["fields"] if f != "last_name"],
            ),
        )
        for name, fields in fieldsets
    ]


class CrmUserDBModelView(UserDBModelView):
    """FAB's user pages, naming a person by the one rule (app.core.people: family name first)."""

    class_permission_name = "UserDBModelView"
    list_columns = ["get_full_name", "username", "email", "active", "roles"]
    label_columns = dict(UserDBModelView.label_columns, get_full_name=_("Full Name"))
    show_fieldsets = _full_name_fieldsets(UserDBModelView.show_fieldsets)
    user_show_fieldsets = _full_name_fieldsets(UserDBModelView.user_show_fieldsets)


class CrmUserGroupModelView(UserGroupModelView):
    """FAB's user groups, with its columns labelled."""

    class_permission_name = "UserGroupModelView"
    label_columns = {
        "name": _("Name"),
        "label": _("Display name"),
        "description": _("Description"),
        "users": _("Users"),
        "roles": _("Roles"),
    }


_SECURITY_API_LABELS = {
    "id": _("ID"),
    "name": _("Name"),
    "label": _("Display name"),
    "description": _("Description"),
    "permissions": _("Permissions"),
    "permission": _("Permission"),
    "view_menu": _("View/Menu"),
    "permission_id": _("Permission ID"),
    "view_menu_id": _("View/Menu ID"),
    "permission.name": _("Permission"),
    "view_menu.name": _("View/Menu"),
    "first_name": _("First Name"),
    "last_name": _("Last Name"),
    "username": _("User Name"),
    "email": _("Email"),
    "active": _("Is Active?"),
    "password": _("Password"),
    "roles": _("Role"),
    "groups": _("User groups"),
    "users": _("Users"),
    "last_login": _("Last login"),
    "login_count": _("Login count"),
    "fail_login_count": _("Failed login count"),
    "created_on": _("Created on"),
    "changed_on": _("Changed on"),
    "created_by": _("Created by"),
    "changed_by": _("Changed by"),
    "created_by.id": _("Created by"),
    "changed_by.id": _("Changed by"),
    "roles.id": _("Role"),
    "roles.name": _("Role"),
    "groups.id": _("User groups"),
    "groups.name": _("User groups"),
    "permissions.id": _("Permissions"),
    "users.id": _("Users"),
    "users.username": _("Users"),
}


def _security_api(base, entity):
    """FAB's security API `base`, speaking the user's language (app.web.api_labels)."""
    from app.web.api_labels import DescribedApi

    attributes = {
        "label_columns": dict(
            _SECURITY_API_LABELS,
            **{k: v for k, v in (base.label_columns or {}).items() if k not in _SECURITY_API_LABELS},
        ),
        "list_title": _("%(entity)s list", entity=entity),
        "show_title": _("%(entity)s details", entity=entity),
        "add_title": _("Add %(entity)s", entity=entity),
        "edit_title": _("Edit %(entity)s", entity=entity),
    }
    return type(base.__name__, (DescribedApi, base), attributes)


class CrmPermissionViewModelView(PermissionViewModelView):
    """FAB's list of permissions on views and menus, with its role filter labelled."""

    class_permission_name = "PermissionViewModelView"
    label_columns = dict(PermissionViewModelView.label_columns, role=_("Role"))


class LoginForm(LoginForm_db):
    remember = BooleanField(_("Remember me"))


class CrmAuthDBView(AuthDBView):
    """FAB's sign-in page, telling a locked account until when, and with "remember me": the session
    then survives closing the browser for CRM_REMEMBER_DAYS days on that device (Flask-Login's
    remember cookie and a signed companion holding the session version; no password is kept)."""

    login_template = "appbuilder/general/security/login_db.html"

    @expose("/login/", methods=["GET", "POST"])
    @no_cache
    def login(self):
        import datetime

        from flask import current_app, g, request, session
        from flask_appbuilder.utils.base import get_safe_redirect
        from flask_login import login_user

        from app.policy import accounts
        from app.core.clock import timestamp

        if g.user is not None and g.user.is_authenticated:
            return redirect(self._get_safe_next_url())
        form = LoginForm()
        if form.validate_on_submit():
            next_url = get_safe_redirect(request.args.get("next", ""))
            user = self.appbuilder.sm.auth_user_db(form.username.data, form.password.data)
            if not user:
                flash(str(g.pop("crm_login_message", None) or self.invalid_login_message), "warning")
                return redirect(self.appbuilder.get_url_for_login_with(next_url))
            days = int(current_app.config["CRM_REMEMBER_DAYS"])
            remember = bool(form.remember.data) and days > 0
            login_user(user, remember=remember, duration=datetime.timedelta(days=days) if remember else None)
            response = redirect(next_url)
            if remember:
                until = timestamp() + days * 86400
                session["crm_remember_until"] = until
                response.set_cookie(
                    accounts.REMEMBER_COOKIE,
                    accounts.remember_token(current_app.config["SECRET_KEY"], user.id, session["crm_sv"], until),
                    max_age=days * 86400,
                    httponly=True,
                    samesite="Lax",
                    secure=bool(
                        current_app.config.get("REMEMBER_COOKIE_SECURE")
                        or current_app.config.get("SESSION_COOKIE_SECURE")
                    ),
                )
            else:
                session.pop("crm_remember_until", None)
            return response
        return self.render_template(self.login_template, title=self.title, form=form, appbuilder=self.appbuilder)


class CrmUserStatsView(BaseView):
    """权限管理 → 用户统计: sign-ins and failed sign-ins per account, drawn with the ECharts this app
    serves (FAB's page loads Google's chart loader from another host, so it failed offline). Same
    menu, address and permission (can_chart on UserStatsChartView) as FAB's."""

    route_base = "/userstatschartview"
    class_permission_name = "UserStatsChartView"
    default_view = "chart"

    @expose("/chart/")
    @has_access
    def chart(self):
        from app.policy.accounts import login_statistics

        rows = login_statistics(self.appbuilder.sm.session)
        headers = [str(_("User Name")), str(_("Login count")), str(_("Failed login count"))]
        chart = {
            "chart": "bar",
            "labels": [row[0] for row in rows],
            "series": [
                {"name": headers[1], "data": [row[1] for row in rows]},
                {"name": headers[2], "data": [row[2] for row in rows]},
            ],
        }
        return self.render_template(
            "crm/user_stats.html", title=_("User Statistics"), headers=headers, rows=rows, chart=chart
        )


class CrmGroupApi(GroupApi):
    """FAB's groups API, searchable by the group's own columns only: FAB lists the related roles' and
    users' columns (``roles.name``…) as search columns too, which its filter converter cannot filter by
    and warns about ("Filter type not supported…") every time the app starts, CLI commands included."""

    search_columns = [column for column in GroupApi.list_columns if "." not in column]


class CrmSecurityManager(SecurityManager):
    """FAB's security manager with a per-request cache of the user's permissions.

    FAB asks the database once per permission check (menus, buttons, links); one request
    now loads the user's (action, resource) set once.
    """

    rolemodelview = CrmRoleModelView
    authdbview = CrmAuthDBView
    userstatschartview = CrmUserStatsView
    userdbmodelview = CrmUserDBModelView
    groupmodelview = CrmUserGroupModelView
    permissionviewmodelview = CrmPermissionViewModelView
    permission_api = _security_api(SecurityManager.permission_api, _("Base permissions"))
    role_api = _security_api(SecurityManager.role_api, _("Roles"))
    user_api = _security_api(SecurityManager.user_api, _("Users"))
    view_menu_api = _security_api(SecurityManager.view_menu_api, _("Views and menus"))
    permission_view_menu_api = _security_api(
        SecurityManager.permission_view_menu_api, _("Permissions on views and menus")
    )
    group_api = _security_api(CrmGroupApi, _("User groups"))

    def __init__(self, appbuilder):
        super().__init__(appbuilder)
        from app.core.people import person_name
        from app.policy.permission_labels import name_security_models

        name_security_models(
            self.user_model,
            self.role_model,
            self.permissionview_model,
            self.permission_model,
            self.viewmenu_model,
            person_name,
            ROLE_LABELS,
        )

    def _user_permission_set(self):
        """The acting principal's (action, resource) set, loaded once per request; None is everything."""
        return current_principal().permissions

    def field_access(self, resource):
        """The acting principal's field levels on ``resource`` (one query per request in all)."""
        from app.policy.field_permissions import field_access_for

        return field_access_for(current_principal(), resource)

    # ---- login protection (rules in app.policy.accounts)

    def auth_user_db(self, username, password):
        """FAB's check, plus (rules in app.policy.accounts):

        - failed sign-ins are counted per client address and per sign-in name; ``CRM_LOGIN_RATE_LIMIT``
          failures in the window refuse further tries from there or for that name (successes count
          for nothing, so an office behind one address signs in freely);
        - the ``CRM_LOGIN_MAX_FAILURES``-th failure in a row locks the account, and is then told it is
          locked and until when; a name no account has is counted and locked the same way, so the
          replies do not tell which names exist. A locked sign-in costs what a wrong password costs.
        Also guards the REST API's login. The message for the login page is left in
        ``g.crm_login_message``."""
        from flask import current_app, g, has_request_context
        from werkzeug.security import check_password_hash

        from app.policy import accounts
        from app.core.column_types import utcnow

        config = current_app.config
        user = (self.find_user(username=username) or self.find_user(email=username)) if username else None
        user_id = user.id if user is not None else None
        now = utcnow()
        keys = accounts.throttle_keys(_client_ip(), username)

        def refuse(message):
            if has_request_context():
                g.crm_login_message = message
            return None

        refuse(None)
        if accounts.too_many_failures(
            self.session, keys, now, config["CRM_LOGIN_RATE_LIMIT"], config["CRM_LOGIN_RATE_WINDOW_MINUTES"]
        ):
            check_password_hash(config["AUTH_DB_FAKE_PASSWORD_HASH_CHECK"], "password")
            return refuse(
                _(
                    "Too many failed sign-ins from here. Try again in %(minutes)s minutes.",
                    minutes=config["CRM_LOGIN_RATE_WINDOW_MINUTES"],
                )
            )
        until = accounts.locked_until(self.session, user_id, username, now)
        if until is not None:
            check_password_hash(config["AUTH_DB_FAKE_PASSWORD_HASH_CHECK"], "password")
            accounts.record_failed_attempt(self.session, keys, now, config["CRM_LOGIN_RATE_WINDOW_MINUTES"])
            if user is not None:
                self.on_user_login_failed(user)
            else:
                self._log_unknown_failure(username)
            return refuse(accounts.locked_message(until))
        result = super().auth_user_db(username, password)
        if result is not None:
            accounts.record_success(self.session, user.id)
            return result
        accounts.record_failed_attempt(self.session, keys, now, config["CRM_LOGIN_RATE_WINDOW_MINUTES"])
        if user is not None:
            until = accounts.record_failure(
                self.session, user.id, now, config["CRM_LOGIN_MAX_FAILURES"], config["CRM_LOGIN_LOCK_MINUTES"]
            )
        elif username:
            # an unknown name is logged too (someone is guessing), which also costs what a known
            # user's failure costs, so the reply does not tell whether the account exists
            self._log_unknown_failure(username)
            until = accounts.record_unknown_failure(
                self.session, username, now, config["CRM_LOGIN_MAX_FAILURES"], config["CRM_LOGIN_LOCK_MINUTES"]
            )
        return refuse(accounts.locked_message(until)) if until is not None else None

    def _log_unknown_failure(self, username):
        from app.policy.audit import record_event

        record_event(self.session, "login_failed", "User", 0, (username or "")[:100])

    def on_user_login(self, user):
        from flask import has_request_context, session

        from app.policy.accounts import session_version
        from app.policy.audit import record_event
        from app.core.column_types import utcnow

        if has_request_context():
            session["crm_sv"] = session_version(self.session, user.id)
            session["crm_login_at"] = session["crm_seen_at"] = utcnow().timestamp()
        record_event(self.session, "login", "User", user.id, user.username, actor_id=user.id)

    def on_user_login_failed(self, user):
        from app.policy.audit import record_event

        record_event(self.session, "login_failed", "User", user.id, user.username, actor_id=user.id)

    def on_user_logout(self, user):
        from app.policy.accounts import end_sessions
        from app.policy.audit import record_event

        end_sessions(self.session, user.id)  # a copy of the cookie taken before logout stops working
        record_event(self.session, "logout", "User", user.id, user.username, actor_id=user.id)

    def _load_account(self, pk):
        """(user, session version, must change password) of an active account, or None."""
        from flask_appbuilder.security.sqla.models import User
        from sqlalchemy import select

        from app.models import AccountSecurity

        row = self.session.execute(
            select(User, AccountSecurity.session_version, AccountSecurity.must_change_password)
            .outerjoin(AccountSecurity, AccountSecurity.user_id == User.id)
            .where(User.id == int(pk))
        ).first()
        if row is None or not row[0].is_active:
            return None
        return row[0], row[1] or 0, bool(row[2])

    def load_user(self, pk):
        """The cookie session's user, unless the account is disabled or its sessions were ended since.

        A session Flask-Login restores from its "remember me" cookie (the browser was closed) has no
        session version yet: it is taken from the signed companion cookie (app.policy.accounts.remember_token)
        and must be the account's current one, so logout, a password change or disabling the account
        end remembered sessions too."""
        from flask import current_app, g, request, session

        from app.policy import accounts
        from app.core.clock import timestamp

        account = self._load_account(pk)
        if account is None:
            return None
        if session.get("crm_sv") != account[1]:
            now = timestamp()
            until = accounts.remembered_until(
                current_app.config["SECRET_KEY"], request.cookies.get(accounts.REMEMBER_COOKIE), pk, account[1], now
            )
            if until is None:
                return None
            session["crm_sv"], session["crm_remember_until"] = account[1], until
            session["crm_login_at"] = session["crm_seen_at"] = now
        g.crm_must_change_password = account[2]
        return account[0]

    # ---- API tokens (JWT): they carry the session version they were issued under

    def create_jwt_manager(self, app):
        jwt_manager = super().create_jwt_manager(app)
        jwt_manager.additional_claims_loader(self._token_claims)
        jwt_manager.token_in_blocklist_loader(self._token_revoked)
        return jwt_manager

    def _token_claims(self, identity):
        from app.policy.accounts import session_version

        try:
            return {"crm_sv": session_version(self.session, int(identity))}
        except (TypeError, ValueError):
            return {}

    def _token_revoked(self, _jwt_header, jwt_data):
        """A token issued before the account's last logout, password change or disabling is refused (401)."""
        from app.policy.accounts import token_current

        return not token_current(self.session, jwt_data.get("sub"), jwt_data.get("crm_sv"))

    def load_user_jwt(self, _jwt_header, jwt_data):
        """A token's user: the cookie session's version does not apply (revocation is _token_revoked)."""
        from flask import g

        try:
            account = self._load_account(jwt_data["sub"])
        except (KeyError, TypeError, ValueError):
            return None
        if account is None:
            return None
        g.user = account[0]
        g.crm_must_change_password = account[2]
        return account[0]

    def reset_password(self, userid, password):
        """A new password ends the account's other sessions, tokens and reset links (app.policy.accounts, on
        every path that changes a password); the person changing their own stays signed in."""
        from flask import g, has_request_context, session

        from app.policy.accounts import require_password_change, session_version

        super().reset_password(userid, password)
        user = getattr(g, "user", None) if has_request_context() else None
        if not getattr(user, "is_authenticated", False):
            user = None  # a reset link or the CLI: the owner chose this password
        own = getattr(user, "id", None) == userid
        if own:
            session["crm_sv"] = session_version(self.session, userid)
        # set by someone else (an admin): the owner must choose their own at the next login
        require_password_change(self.session, userid, not own and user is not None)

    def has_access(self, permission_name, view_name):
        permissions = self._user_permission_set()
        return permissions is None or (permission_name, view_name) in permissions

    def new_resources(self):
        """What this install has never had: the built-in roles' resources and menus (a new release's
        pages), and (action, resource) pairs (a new permission on an old resource, e.g. a row scope)."""
        from app.views import MENU_RESOURCES

        known = {resource for permissions in ROLE_CONFIGS.values() for _action, resource in permissions}
        known |= set(MENU_RESOURCES)
        new = {resource for resource in known if self.find_view_menu(resource) is None}
        pairs = {pair for permissions in ROLE_CONFIGS.values() for pair in permissions}
        return new | {pair for pair in pairs if self.find_permission_view_menu(*pair) is None}

    def sync_roles(self, reset=False, new_resources=None):
        """Create the built-in roles; with ``reset`` give existing ones their built-in permissions back.

        Existing roles also get their built-in rights on ``new_resources`` (by default: those not
        yet known), while rights an admin changed on older resources are kept.
        """
        from app.views import MENU_RESOURCES

        self.add_role(self.auth_role_admin)
        if new_resources is None:
            new_resources = self.new_resources()
        for role_name, permissions in ROLE_CONFIGS.items():
            role = self.find_role(role_name)
            wanted = list(permissions)
            readable = {resource for _action, resource in permissions}  # any right on it shows its menu
            for menu_name, resource in MENU_RESOURCES.items():
                if resource is None or resource in readable:
                    wanted.append((MENU_ACCESS, menu_name))
            if role is not None and not reset:
                added = [(a, r) for a, r in wanted if r in new_resources or (a, r) in new_resources] + list(EVERYONE)
                for action, resource in added:  # new everyone-permissions reach existing roles too
                    pvm = self.find_permission_view_menu(action, resource) or self.add_permission_view_menu(
                        action, resource
                    )
                    if pvm not in role.permissions:
                        role.permissions.append(pvm)
                continue
            role = role or self.add_role(role_name)
            pvms = []
            for action, resource in wanted:
                pvm = self.find_permission_view_menu(action, resource)
                if pvm is None:
                    pvm = self.add_permission_view_menu(action, resource)
                pvms.append(pvm)
            role.permissions = pvms
        self.session.commit()
