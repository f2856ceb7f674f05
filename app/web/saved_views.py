"""Saved list views: a user's named filters, search and order for one list, shareable with a role."""

from urllib.parse import parse_qsl, urlencode

from flask_babel import lazy_gettext as _
from sqlalchemy import or_, select

from app.core.errors import DomainError, NotAllowed
from app.models import SavedListView

# query-string keys a saved view keeps: filters, quick search, order, page size
_KEPT_PREFIXES = ("_flt_", "_oc_", "_od_", "psize_")


def clean_query(query_string):
    """Keep only what describes the view: filters, search, columns, order, page size (no page number)."""
    pairs = [
        (k, v)
        for k, v in parse_qsl(query_string, keep_blank_values=False)
        if k in ("q", "cols") or k.startswith(_KEPT_PREFIXES)
    ]
    return urlencode(pairs)


def save_view(session, owner_id, view, name, query_string, shared_role_id=None):
    name = (name or "").strip()
    if not name:
        raise DomainError(_("Give the view a name."), field="name")
    if len(name) > 60:
        raise DomainError(_("The name is too long (at most 60 characters)."), field="name")
    existing = session.execute(
        select(SavedListView).where(
            SavedListView.owner_id == owner_id, SavedListView.view == view, SavedListView.name == name
        )
    ).scalar()
    saved = existing or SavedListView(owner_id=owner_id, view=view, name=name)
    saved.query = clean_query(query_string)
    saved.shared_role_id = shared_role_id
    session.add(saved)
    session.commit()
    return saved


def views_for(session, user_id, role_ids, view):
    """The user's own saved views of a list, then those shared with one of their roles."""
    rows = session.execute(
        select(SavedListView)
        .where(
            SavedListView.view == view,
            or_(SavedListView.owner_id == user_id, SavedListView.shared_role_id.in_(role_ids or [-1])),
        )
        .order_by(SavedListView.owner_id != user_id, SavedListView.name)
    ).scalars()
    return list(rows)


def delete_view(session, user_id, saved_id):
    saved = session.get(SavedListView, saved_id)
    if saved is None:
        raise DomainError(_("This saved view no longer exists."))
    if saved.owner_id != user_id:
        raise NotAllowed(_("Only the owner can delete a saved view."))
    session.delete(saved)
    session.commit()
