"""The one SecurityManager subclass and FAB's security pages (sign-in, users, roles, groups) and
API, as this product shows them. What a permission means is declared in app.policy.permissions;
the rules it applies (lockout, throttling, sessions) are in app.policy.accounts.
"""

import functools

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
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload
from wtforms import BooleanField

from app.policy.principal import current_principal
from app.policy.permissions import (
    EVERYONE,
    MENU_ACCESS,
    ROLE_CONFIGS,
    ROLE_LABELS,
)
from app.policy.permission_labels import sorted_permissions
from app.policy.permission_labels import permission_label
from app.web.api_labels import DescribedApi
from app.policy.field_permissions import copy_role
from app.policy import accounts
from app.core.clock import timestamp
from app.policy.accounts import login_statistics
from app.core.people import person_name
from app.policy.permission_labels import name_security_models
from app.policy.field_permissions import field_access_for
from app.core.column_types import utcnow
from app.policy.audit import record_event
from app.policy.accounts import session_version
from app.policy.accounts import end_sessions
from app.models import AccountSecurity
from app.policy.accounts import token_current
from app.policy.accounts import require_password_change


def _client_ip():
    from flask import has_request_context, request

    return (request.remote_addr or "unknown") if has_request_context() else "local"


def _permission_choices():
    """Every permission, in menu order, with what it needs for its label loaded at once."""
    from flask import current_app

    sm = current_app.appbuilder.sm
    model = sm.permissionview_model
    return sorted_permissions(
        sm.session.query(model).options(joinedload(model.permission), joinedload(model.view_menu)).all()
    )


def _permissions_field():

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


def _declared_rights():
    """Every (action, resource) right the app declares: the built-in roles' and everyone's."""
    return {pair for permissions in ROLE_CONFIGS.values() for pair in permissions} | set(EVERYONE)


@functools.cache
def _account_lookup():
    """Every request's look-up of its account, with the roles its permissions come from, built once."""
    from flask_appbuilder.security.sqla.models import User

    return (
        select(User, AccountSecurity.session_version, AccountSecurity.must_change_password)
        .outerjoin(AccountSecurity, AccountSecurity.user_id == User.id)
        .where(User.id == bindparam("user_id"))
        .options(joinedload(User.roles))
    )


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
    # menu entry -> the resource whose rights show it; handed over by app.views.register_views, so
    # the roles' menu rights follow the menu the registry declares
    menu_resource_map = None

    def menu_resources(self):
        if self.menu_resource_map is None:
            raise RuntimeError("the views are registered (app.views.register_views) before roles are synced")
        return self.menu_resource_map

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

        record_event(self.session, "login_failed", "User", 0, (username or "")[:100])

    def on_user_login(self, user):
        from flask import has_request_context, session

        if has_request_context():
            session["crm_sv"] = session_version(self.session, user.id)
            session["crm_login_at"] = session["crm_seen_at"] = utcnow().timestamp()
        record_event(self.session, "login", "User", user.id, user.username, actor_id=user.id)

    def on_user_login_failed(self, user):

        record_event(self.session, "login_failed", "User", user.id, user.username, actor_id=user.id)

    def on_user_logout(self, user):

        end_sessions(self.session, user.id)  # a copy of the cookie taken before logout stops working
        record_event(self.session, "logout", "User", user.id, user.username, actor_id=user.id)

    def _load_account(self, pk):
        """(user, session version, must change password) of an active account, or None."""
        row = self.session.execute(_account_lookup(), {"user_id": int(pk)}).unique().first()
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

        try:
            return {"crm_sv": session_version(self.session, int(identity))}
        except (TypeError, ValueError):
            return {}

    def _token_revoked(self, _jwt_header, jwt_data):
        """A token issued before the account's last logout, password change or disabling is refused (401)."""

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

    def add_permissions_view(self, base_permissions, view_menu):
        """FAB deletes from a page's resource every permission the page does not expose, once no role
        holds it. The rights of our own vocabulary (row scopes, approve, reverse, export…) live on the
        pages' resources too: one an admin had taken from every role was deleted at the next start, and
        the start after created it anew as "new" and gave it back to the built-in roles. They are
        declared to FAB as the page's own."""
        own = {action for action, resource in _declared_rights() if resource == view_menu}
        if view_menu in (self.menu_resource_map or {}):  # a menu entry named as the page's resource
            own.add(MENU_ACCESS)
        declared = list(base_permissions or []) + sorted(own - set(base_permissions or []))
        return super().add_permissions_view(declared, view_menu)

    def new_resources(self):
        """What this install has never had: the built-in roles' resources and menus (a new release's
        pages), and (action, resource) pairs (a new permission on an old resource, e.g. a row scope)."""
        known = {resource for permissions in ROLE_CONFIGS.values() for _action, resource in permissions}
        known |= set(self.menu_resources())
        new = {resource for resource in known if self.find_view_menu(resource) is None}
        pairs = {pair for permissions in ROLE_CONFIGS.values() for pair in permissions}
        return new | {pair for pair in pairs if self.find_permission_view_menu(*pair) is None}

    def sync_roles(self, reset=False, new_resources=None):
        """Create the built-in roles; with ``reset`` give existing ones their built-in permissions back.

        Existing roles also get their built-in rights on ``new_resources`` (by default: those not
        yet known), while rights an admin changed on older resources are kept.
        """
        self.add_role(self.auth_role_admin)
        if new_resources is None:
            new_resources = self.new_resources()
        for role_name, permissions in ROLE_CONFIGS.items():
            role = self.find_role(role_name)
            wanted = list(permissions)
            readable = {resource for _action, resource in permissions}  # any right on it shows its menu
            for menu_name, resource in self.menu_resources().items():
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
