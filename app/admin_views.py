"""Low-code administration pages: the field-permission matrix."""
from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _
from sqlalchemy import select

from app.errors import DomainError
from app.extensions import db
from app.field_permissions import LEVEL_LABELS, LEVELS, save_matrix
from app.labels import COLUMN_LABELS, MODEL_LABELS
from app.models import FieldPermission
from app.security import RESOURCE_FIELD_PERMISSION, ROLE_LABELS


class FieldPermissionView(BaseView):
    """One model at a time: fields down, roles across; saved in one go."""

    route_base = "/fieldpermissions"
    default_view = "matrix"
    class_permission_name = RESOURCE_FIELD_PERMISSION
    method_permission_name = {"matrix": "edit"}
    resources = {}  # resource name -> ordered field names (filled by register_views)

    def _roles(self):
        sm = self.appbuilder.sm
        return [r for r in sm.get_all_roles() if r.name not in (sm.auth_role_admin, sm.auth_role_public)]

    @expose("/", methods=["GET", "POST"])
    @has_access
    def matrix(self):
        resource = request.values.get("model") or next(iter(self.resources))
        if resource not in self.resources:
            abort(404)
        fields = self.resources[resource]
        roles = self._roles()
        if request.method == "POST":
            matrix = {(role.id, field): request.form.get(f"level-{role.id}-{field}", "editable")
                      for role in roles for field in fields}
            try:
                save_matrix(db.session, resource, matrix, set(fields), {r.id for r in roles})
            except DomainError as error:
                db.session.rollback()
                flash(str(error), "danger")
            else:
                flash(str(_("Field permissions saved.")), "success")
            return redirect(url_for(".matrix", model=resource))
        current = {
            (row.role_id, row.field): row.level
            for row in db.session.execute(
                select(FieldPermission).where(FieldPermission.resource == resource)
            ).scalars()
        }
        return self.render_template(
            "crm/field_permissions.html",
            resources=[(name, MODEL_LABELS.get(name, name)) for name in self.resources],
            current=resource,
            fields=[(f, COLUMN_LABELS.get(f, f)) for f in fields],
            roles=roles,
            role_labels=ROLE_LABELS,
            levels=[(level, LEVEL_LABELS[level]) for level in LEVELS],
            matrix=current,
        )
