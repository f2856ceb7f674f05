"""Field permissions: for each role × model × field, hidden, masked, read-only or editable.

Editable is the default (no row), so a new role changes nothing until configured. A user
with several roles gets the most permissive level any of them has; Admin always edits.
Every path that shows or writes a field (list, show, forms, search, export, API, batch
edit) asks ``levels_for`` and applies ``mask``; nothing else decides.
"""

import functools

from flask_babel import lazy_gettext as _
from sqlalchemy import select

from app.models import FieldPermission
from app import models
from app.policy.permissions import ACTION_READ, CRM_RESOURCES
from app.extensions import db
from app.core.errors import DomainError
from app.policy.principal import current_principal

HIDDEN = "hidden"
MASKED = "masked"
READONLY = "readonly"
EDITABLE = "editable"

LEVELS = (HIDDEN, MASKED, READONLY, EDITABLE)
STRICTNESS = (EDITABLE, READONLY, MASKED, HIDDEN)  # later is stricter
LEVEL_LABELS = {
    HIDDEN: _("Hidden"),
    MASKED: _("Masked"),
    READONLY: _("Read-only"),
    EDITABLE: _("Editable"),
}
_RANK = {level: rank for rank, level in enumerate(LEVELS)}


class FieldAccess:
    """The levels that apply to one user on one model (fields absent are editable).

    A dotted path (``customer.phone`` on a ticket) follows the relation and takes the level the
    user has on that model's field as well: the stricter of the two applies.
    """

    def __init__(self, levels, resource=None, all_levels=None, readable=None, guarded=()):
        self.levels = levels
        self.resource = resource
        self.all_levels = all_levels or {}
        # readable(resource) -> bool, for the models in ``guarded``: may the principal read that model at all
        self.readable = readable
        self.guarded = guarded

    def level(self, field):
        own = self.levels.get(field.split(".")[0], EDITABLE)
        if own == HIDDEN or not self.relation_readable(field):
            return HIDDEN  # a relation to a model the principal may not read is hidden like a field
        if "." not in field:
            # a relation shows the related record by its display field (a ticket's customer by name)
            target = _relation_target(self.resource, field)
            shown = _display_fields(target) if target else ()
            if not shown:
                return own
            related = FieldAccess(self.all_levels.get(target, {}), target, self.all_levels)
            return max([own] + [related.level(name) for name in shown], key=STRICTNESS.index)
        relation, rest = field.split(".", 1)
        target = _relation_target(self.resource, relation)
        if target is None:
            return own
        related = FieldAccess(self.all_levels.get(target, {}), target, self.all_levels).level(rest)
        return max(own, related, key=STRICTNESS.index)

    def model_readable(self):
        """May the principal read this model at all (a widget or report over it)?"""
        return self.readable is None or self.resource not in self.guarded or self.readable(self.resource)

    def shown_as_text(self, record):
        """``str(record)`` as the principal may see it: by the strictest level of what it prints."""
        fields = _display_fields(self.resource)
        level = max([EDITABLE] + [self.level(f) for f in fields], key=STRICTNESS.index)
        if level == HIDDEN:
            return "—"
        return mask("", str(record)) if level == MASKED else str(record)

    def hidden(self, field):
        return self.level(field) == HIDDEN

    def masked(self, field):
        return self.level(field) == MASKED

    def writable(self, field):
        return self.level(field) == EDITABLE

    def searchable(self, field):
        """May this field be searched, filtered, ordered or looked up? Not when hidden or masked: the
        answer to "is it this value?" would give the value away, one character at a time."""
        return self.level(field) in (EDITABLE, READONLY)

    def relation_readable(self, path):
        """False when ``path`` passes through a relation to a CRM model the principal may not read."""
        if self.readable is None or "." not in path and _relation_target(self.resource, path) is None:
            return True
        resource, parts = self.resource, path.split(".")
        for part in parts:
            target = _relation_target(resource, part)
            if target is None:
                return True
            if target in self.guarded and not self.readable(target):
                return False
            resource = target
        return True

    def visible(self, fields):
        return [f for f in fields if not self.hidden(f)]

    def __bool__(self):  # False: nothing to apply (the admin role, the system)
        return bool(self.levels) or bool(self.all_levels) or self.readable is not None


def display_field(model):
    """The field a record is shown by when another record names it (what its __str__ starts with)."""
    columns = getattr(model, "__table__", None)
    for name in ("number", "name", "code", "title", "username", "receipt_number"):
        if columns is not None and name in columns.columns:
            return name
    return None


@functools.lru_cache(maxsize=256)
def _display_fields(resource):
    """The fields a record of ``resource`` prints when another record names it: its declared
    ``__str_fields__`` (what its __str__ reads), or its display field."""

    model = getattr(models, resource, None)
    declared = getattr(model, "__str_fields__", None)
    if declared is not None:
        return tuple(declared)
    field = display_field(model)
    return (field,) if field else ()


@functools.lru_cache(maxsize=1024)
def _relation_target(resource, relation):
    """The permission resource (model name) a relation of ``resource`` leads to, or None."""

    model = getattr(models, resource or "", None)
    mapper = getattr(model, "__mapper__", None)
    if mapper is None or relation not in mapper.relationships:
        return None
    return mapper.relationships[relation].mapper.class_.__name__


def field_access_for(principal, resource):
    """The field levels that apply to ``principal`` on ``resource`` (levels loaded once per principal)."""

    if principal.permissions is None:  # the admin role and the system see and edit every field
        return FieldAccess({}, resource, {})
    levels = principal.cache.get("field_levels")
    if levels is None:
        levels = principal.cache["field_levels"] = load_all_levels(db.session, list(principal.role_ids))
    return FieldAccess(
        levels.get(resource, {}),
        resource,
        levels,
        readable=lambda target: principal.may(ACTION_READ, target),
        guarded=frozenset(CRM_RESOURCES),
    )


def level_record(access, record, prefix=""):
    """Apply the field levels to a serialized record in place, at every depth: a hidden field is
    removed, a masked one masked, an embedded record (``customer`` inside a bill) levelled by its
    own model's levels, and an embedded record of a model the principal may not read removed."""
    for key in list(record):
        path = f"{prefix}{key}"
        value = record[key]
        if access.hidden(path) or not access.relation_readable(path):
            del record[key]
        elif isinstance(value, dict):
            level_record(access, value, f"{path}.")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                level_record(access, item, f"{path}.")
        elif access.masked(path) and isinstance(value, (str, int)):
            record[key] = mask(key, value)
    return record


def load_all_levels(session, role_ids):
    """{resource: {field: level}} in one query (one per request, whatever the number of fields)."""
    if not role_ids:
        return {}
    rows = session.execute(
        select(FieldPermission.resource, FieldPermission.role_id, FieldPermission.field, FieldPermission.level).where(
            FieldPermission.role_id.in_(role_ids)
        )
    ).all()
    levels, roles_with_row = {}, {}
    for resource, role_id, field, level in rows:
        key = (resource, field)
        roles_with_row.setdefault(key, set()).add(role_id)
        current = levels.get(key)
        levels[key] = level if current is None or _RANK[level] > _RANK[current] else current
    result = {}
    for (resource, field), level in levels.items():
        # a role with no row for the field leaves it editable for that user
        if roles_with_row[(resource, field)] >= set(role_ids):
            result.setdefault(resource, {})[field] = level
    return result


def mask(field, value):
    """A partial value: phone 138****1234, ID 1101**********1234, other text 张**."""
    if value is None or value == "":
        return value
    text = str(value)
    if field == "phone" or field.endswith("phone"):
        return text[:3] + "*" * max(len(text) - 7, 1) + text[-4:] if len(text) > 7 else "*" * len(text)
    if field == "id_number":
        return text[:4] + "*" * max(len(text) - 8, 1) + text[-4:] if len(text) > 8 else "*" * len(text)
    if field == "email" and "@" in text:
        name, domain = text.split("@", 1)
        return name[:1] + "***@" + domain
    return text[:1] + "*" * min(max(len(text) - 1, 2), 8)


def matrix_levels(session, resource):
    """The levels set for ``resource``: {(role id, field): level} (a field not named is editable)."""
    rows = session.execute(select(FieldPermission).where(FieldPermission.resource == resource)).scalars()
    return {(row.role_id, row.field): row.level for row in rows}


def save_matrix(session, resource, matrix, known_fields, role_ids):
    """Replace the field permissions of ``resource`` with ``matrix`` {(role_id, field): level} in one go."""

    for (role_id, field), level in matrix.items():
        if field not in known_fields or role_id not in role_ids:
            raise DomainError(_("Unknown field or role in the permission matrix."))
        if level not in LEVELS:
            raise DomainError(_("Unknown permission level: %(level)s", level=level))
    existing = {
        (row.role_id, row.field): row
        for row in session.execute(select(FieldPermission).where(FieldPermission.resource == resource)).scalars()
    }
    for key, row in existing.items():
        if matrix.get(key, EDITABLE) == EDITABLE and key[0] in role_ids:
            session.delete(row)
    for (role_id, field), level in matrix.items():
        if level == EDITABLE:
            continue
        row = existing.get((role_id, field))
        if row is None:
            session.add(FieldPermission(role_id=role_id, resource=resource, field=field, level=level))
        else:
            row.level = level
    session.commit()


def may_read_field(principal, resource, field):
    """May ``principal`` see ``field`` of ``resource`` in clear (figures computed from it included)?"""
    access = field_access_for(principal, resource)
    return access.model_readable() and access.searchable(field)


def shown_value(record, name):
    """A record's field as the acting principal may see it: nothing when hidden, masked when masked.

    Custom pages print fields through this (the ``field(record, name)`` template global) so that the
    levels hold there as on the generated pages.
    """

    if record is None:
        return ""
    level = field_access_for(current_principal(), type(record).__name__).level(name)
    value = getattr(record, name, None)
    if level == HIDDEN or value is None:
        return ""
    if level == MASKED:
        return mask(name, str(value))
    return value


def copy_role(session, role):
    """A copy of ``role`` named "<name> copy" with its permissions *and* its field levels, in one
    transaction: a copied role must behave exactly like the original (scope, approvals, fields)."""
    copy = type(role)(name=f"{role.name} copy")
    copy.permissions = list(role.permissions)
    session.add(copy)
    session.flush()
    for row in session.execute(select(FieldPermission).where(FieldPermission.role_id == role.id)).scalars():
        session.add(FieldPermission(role_id=copy.id, resource=row.resource, field=row.field, level=row.level))
    session.commit()
    return copy
