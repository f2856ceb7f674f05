"""The principal: who is acting, resolved once per request (cookie or token) or set by a job.

Everything that decides "may this principal see or do this" reads the principal: FAB's permission
checks, row scope (app.policy.scoping), field levels (app.policy.field_permissions) and the approval rules of the
domain modules. Permissions are (action, resource) pairs granted to roles in the role UI; no code
looks at a role's name, so a role an admin copies behaves exactly like the original.

- In a request, ``resolve_request_principal`` runs before any view: from the session cookie, or
  from a bearer token when one is sent. Until then, and when nobody is signed in, the principal is
  the anonymous one, which reaches no scoped row (unknown means deny).
- Outside a request (scheduler jobs, CLI) the principal is the system, unless a job acts for a user
  (``acting_as``): a background export runs with the scope and field levels of the user who asked.
"""

import collections
import contextlib
import functools
import contextvars
from dataclasses import dataclass, field

from flask import current_app, g, has_request_context
from sqlalchemy import bindparam, select
from app.models import StaffProfile
from app.extensions import db

# Row scope, granted per resource like any permission (app.policy.permissions grants them to the built-in roles).
ACTION_SEE_ALL = "can_see_all"  # every row of the resource
ACTION_SEE_DEPARTMENT = "can_see_department"  # rows of the user's departments (and their own)

SCOPE_ALL = "all"
SCOPE_DEPARTMENT = "department"
SCOPE_OWN = "own"
SCOPE_NONE = "none"


@dataclass(frozen=True)
class Principal:
    user_id: int | None
    role_ids: tuple = ()
    # (action, resource) pairs; None means every permission (the admin role, the system)
    permissions: frozenset | None = frozenset()
    departments: tuple = ()
    kind: str = "anonymous"  # "user", "resident", "system" or "anonymous"
    # a resident signed in to the portal: the customer they are (their own rows only, no staff permission)
    customer_id: int | None = None
    # what is loaded for this principal once (its field levels), filled on first use
    cache: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def is_system(self):
        return self.kind == "system"

    @property
    def is_authenticated(self):
        return self.kind == "user"

    @property
    def is_resident(self):
        return self.kind == "resident"

    def may(self, action, resource):
        return self.permissions is None or (action, resource) in self.permissions

    def scope(self, resource):
        """How many rows of ``resource`` this principal reaches: all, department, own or none."""
        if self.permissions is None:
            return SCOPE_ALL
        if self.kind in ("anonymous", "resident"):  # a resident reaches their own rows by rules of their own
            return SCOPE_NONE
        if self.may(ACTION_SEE_ALL, resource):
            return SCOPE_ALL
        if self.may(ACTION_SEE_DEPARTMENT, resource):
            return SCOPE_DEPARTMENT
        return SCOPE_OWN


SYSTEM = Principal(user_id=None, permissions=None, kind="system")
ANONYMOUS = Principal(user_id=None, kind="anonymous")

_acting = contextvars.ContextVar("crm_principal", default=None)
# set while a principal is being worked out: its own look-ups (roles, permissions, departments) are
# not rows of anybody's scope, and must not ask for the principal they are building
_RESOLVING = Principal(user_id=None, permissions=frozenset(), kind="resolving")


@functools.cache
def _lookups():
    """The statements that work out every request's principal, built once: building and keying a
    statement cost more than running it."""
    from flask_appbuilder.security.sqla.models import Permission, PermissionView, Role, ViewMenu

    permissions = (
        select(Permission.name, ViewMenu.name)
        .join(PermissionView, PermissionView.permission_id == Permission.id)
        .join(ViewMenu, PermissionView.view_menu_id == ViewMenu.id)
        .join(PermissionView.role)
        .where(Role.id.in_(bindparam("role_ids", expanding=True)))
        .execution_options(crm_unscoped=True)
    )
    departments = (
        select(StaffProfile.department_id)
        .where(StaffProfile.user_id == bindparam("user_id"), StaffProfile.department_id.isnot(None))
        .execution_options(crm_unscoped=True)
    )
    return _Lookups(permissions=permissions, departments=departments)


_Lookups = collections.namedtuple("_Lookups", "permissions departments")


def _permissions_of_roles(session, role_ids):
    if not role_ids:
        return frozenset()
    rows = session.execute(_lookups().permissions, {"role_ids": list(role_ids)}).all()
    return frozenset((action, resource) for action, resource in rows)


def principal_for(session, user):
    """The principal of ``user`` (a FAB User), with its permissions and departments loaded once."""
    with acting_as(_RESOLVING):
        return _principal_for(session, user)


def _principal_for(session, user):

    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "id", None) is None:
        return anonymous_principal(session)
    roles = list(user.roles)
    role_ids = tuple(sorted(role.id for role in roles))
    admin_role = current_app.config.get("AUTH_ROLE_ADMIN", "Admin")
    # the admin role is FAB's own configured superuser role, not a rule of ours
    permissions = None if any(role.name == admin_role for role in roles) else _permissions_of_roles(session, role_ids)
    departments = tuple(session.execute(_lookups().departments, {"user_id": user.id}).scalars())
    return Principal(user_id=user.id, role_ids=role_ids, permissions=permissions, departments=departments, kind="user")


def anonymous_principal(session):
    """Nobody signed in: FAB's public role's permissions, and no scoped row."""
    cached = g.get("_crm_anonymous") if has_request_context() else None
    if cached is not None:
        return cached
    sm = current_app.appbuilder.sm
    with acting_as(_RESOLVING):
        role = sm.find_role(sm.auth_role_public)
        permissions = _permissions_of_roles(session, (role.id,) if role else ())
    principal = Principal(user_id=None, role_ids=(role.id,) if role else (), permissions=permissions, kind="anonymous")
    if has_request_context():
        g._crm_anonymous = principal
    return principal


def resident_principal(customer_id):
    """A resident signed in to the portal: no staff permission; the rows that are theirs (app.policy.scoping)."""
    return Principal(user_id=None, kind="resident", customer_id=customer_id)


def current_principal():
    """The acting principal: set by ``acting_as``, else this request's resident (portal pages) or user,
    else the system (jobs, CLI)."""
    acting = _acting.get()
    if acting is not None:
        return acting
    if not has_request_context():
        return SYSTEM
    resident = g.get("crm_resident_principal")
    if resident is not None:  # set by the portal for its own routes only; staff pages never see one
        return resident
    user = _request_user()
    cached = g.get("_crm_principal")
    if cached is not None and cached[0] is user:  # the same signed-in user (a login or token changes it)
        return cached[1]
    return _principal_of(user)


def _request_user():
    """The signed-in user of this request (loading it is not a scoped query), or None."""
    with acting_as(_RESOLVING):
        user = g.get("user")
        if hasattr(user, "_get_current_object"):
            user = user._get_current_object()
        return user if getattr(user, "is_authenticated", False) else None


def _principal_of(user):

    principal = anonymous_principal(db.session) if user is None else principal_for(db.session, user)
    g._crm_principal = (user, principal)
    return principal


def resolve_request_principal():
    """Before any view: who sent this request, from the session cookie or else a bearer token."""
    from flask import request
    from flask_login import current_user

    g.pop("_crm_principal", None)
    with acting_as(_RESOLVING):
        cookie_user = current_user._get_current_object()  # loads the session's user, unscoped
        authorization = request.headers.get("Authorization", "")
        if not getattr(cookie_user, "is_authenticated", False) and authorization[:7].lower() == "bearer ":
            from flask_jwt_extended import verify_jwt_in_request

            try:
                verify_jwt_in_request(optional=True)  # FAB's token loader sets g.user
            except Exception:  # noqa: BLE001 - a bad token is the endpoint's 401 to give; here: nobody
                g.user = current_user
    return _principal_of(_request_user())


@contextlib.contextmanager
def acting_as(principal):
    """Run a block as ``principal`` (a job for the user who asked; a public link as the system)."""
    token = _acting.set(principal)
    try:
        yield principal
    finally:
        _acting.reset(token)


def permits(session, actor, action, resource):
    """May ``actor`` (a User) do ``action`` on ``resource``? Nobody (None) may do nothing."""
    if actor is None:
        return False
    principal = current_principal()
    if principal.user_id != getattr(actor, "id", None):
        principal = principal_for(session, actor)
    return principal.may(action, resource)


def users_with_permission(session, action, resource):
    """Ids of the active users whose roles grant (action, resource) — who approves is who is told."""
    from flask_appbuilder.security.sqla.models import Permission, PermissionView, Role, User, ViewMenu

    return (
        session.execute(
            select(User.id)
            .join(User.roles)
            .join(Role.permissions)
            .join(Permission, PermissionView.permission_id == Permission.id)
            .join(ViewMenu, PermissionView.view_menu_id == ViewMenu.id)
            .where(Permission.name == action, ViewMenu.name == resource, User.active.is_(True))
            .distinct()
            .order_by(User.id)
            .execution_options(crm_unscoped=True)
        )
        .scalars()
        .all()
    )


def as_link_holder(view):
    """A public page opened by a signed personal link (rating, survey): the link, not a login,
    grants the one record it names, so the page reads it as the system would."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        with acting_as(SYSTEM):
            return view(*args, **kwargs)

    return wrapper
