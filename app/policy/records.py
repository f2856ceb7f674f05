"""Rules every write of a record obeys, whatever path it takes (page, API, CLI, job).

- who did it: ``session.info["actor_id"]`` stamps created_by/updated_by;
- composite uniqueness is checked before the database refuses it, with a clear message;
- deletes that would lose data (a building with units, a customer with tickets or bills)
  are refused, as declared by each model's ``__delete_guards__``.
"""

from flask_babel import lazy_gettext as _
from sqlalchemy import UniqueConstraint, and_, event, select, func
from sqlalchemy.orm import Session, with_parent

from app.core.errors import DeleteRefused, DomainError
from app import models
from app.core.clock import utcnow

# relation name -> message; a record with any related row there cannot be deleted.
DELETE_GUARDS = {
    models.Building: [("units", _("This building still has units; move or delete them first."))],
    models.Unit: [
        ("tickets", _("This unit has tickets; it cannot be deleted.")),
        ("bills", _("This unit has bills; it cannot be deleted.")),
    ],
    models.Customer: [
        ("tickets", _("This customer has tickets; set the status to inactive instead of deleting.")),
        ("bills", _("This customer has bills; set the status to inactive instead of deleting.")),
        (
            "communications",
            _("This customer has communication records; set the status to inactive instead of deleting."),
        ),
    ],
    models.Department: [
        ("staff", _("This department still has staff; move them first.")),
        ("tickets", _("This department has tickets; it cannot be deleted.")),
    ],
    models.Ticket: [("events", _("Tickets are kept with their history; cancel the ticket instead."))],
    models.Bill: [("payments", _("This bill has payments; it cannot be deleted."))],
    models.Payment: [(None, _("Payments cannot be deleted; record a reversal instead."))],
    models.TicketEvent: [(None, _("The ticket history cannot be changed."))],
    models.Supplier: [("contracts", _("This supplier has contracts; it cannot be deleted."))],
    models.Equipment: [("plans", _("This equipment has maintenance plans; delete or move them first."))],
    models.MaintenancePlan: [
        ("occurrences", _("This plan has maintenance records; switch it off instead of deleting."))
    ],
    models.Survey: [("recipients", _("This survey has been sent; close it instead of deleting."))],
}
DELETE_GUARDS[models.Customer] += [
    ("contracts", _("This customer has contracts; set the status to inactive instead of deleting.")),
    ("renovations", _("This customer has renovations; set the status to inactive instead of deleting.")),
]
DELETE_GUARDS[models.Unit].append(("renovations", _("This unit has renovations; it cannot be deleted.")))


def check_delete(session, item):
    """Raise DeleteRefused if deleting ``item`` would silently lose related records."""
    for relation, message in DELETE_GUARDS.get(type(item), ()):
        if relation is None:
            raise DeleteRefused(message)
        attribute = getattr(type(item), relation)
        target = attribute.property.mapper.class_
        query = select(target.id).where(with_parent(item, attribute)).limit(1)
        if session.execute(query).first() is not None:
            raise DeleteRefused(message)


def unique_together_constraints(model):
    return [
        c
        for c in model.__table__.constraints
        if isinstance(c, UniqueConstraint) and len(c.columns) > 1 and "message" in c.info
    ]


def check_unique_together(session, model, values, exclude_pk=None):
    """Raise DomainError if another row has the same values for a composite unique key.

    ``values`` maps column names to the values about to be written.
    """
    for constraint in unique_together_constraints(model):
        names = [c.name for c in constraint.columns]
        if any(values.get(name) is None for name in names):
            continue
        clause = and_(*[getattr(model, name) == values[name] for name in names])
        query = select(func.count()).select_from(model).where(clause)
        if exclude_pk is not None:
            query = query.where(model.id != exclude_pk)
        with session.no_autoflush:  # the record being checked must not be flushed by the check
            duplicate = session.execute(query).scalar()
        if duplicate:
            raise DomainError(constraint.info["message"], field=constraint.info.get("field"))


def column_values(item):
    """Column values of ``item``, with foreign keys taken from related objects not yet flushed."""
    mapper = type(item).__mapper__
    values = {c.key: getattr(item, c.key) for c in mapper.column_attrs}
    for rel in mapper.relationships:
        if rel.direction.name != "MANYTOONE":
            continue
        related = item.__dict__.get(rel.key)
        if related is not None:
            for local, remote in rel.local_remote_pairs:
                values[local.key] = getattr(related, remote.key)
    return values


# model -> check(session, item, actor_id) run before an edit is saved (domain modules register theirs)
UPDATE_CHECKS = {}


def check_update(session, item):
    """Run the model's own rule on a pending edit, so a page or the API can show its message."""
    check = UPDATE_CHECKS.get(type(item))
    if check is not None:
        with session.no_autoflush:
            check(session, item, current_actor_id(session))


def flush_time(session):
    """The moment a flush records (numbers, history, notices): now, or the moment a loader replaying
    past events has set as ``session.info["as_of"]`` (the demo writes its months of history so)."""

    return session.info.get("as_of") or utcnow()


def current_actor_id(session):
    """The acting user's id: set explicitly by jobs/CLI, or provided by the web request."""
    actor_id = session.info.get("actor_id")
    if actor_id is None and session.info.get("actor_provider"):
        actor_id = session.info["actor_provider"]()
    return actor_id


def _stamp_actor(session, flush_context, instances):
    actor_id = current_actor_id(session)
    if actor_id is None:
        return
    for item in session.new:
        for attr in ("created_by_id", "updated_by_id"):
            if hasattr(item, attr) and getattr(item, attr) is None:
                setattr(item, attr, actor_id)
    for item in session.dirty:
        if hasattr(item, "updated_by_id") and session.is_modified(item, include_collections=False):
            item.updated_by_id = actor_id


def register(session_class=Session):
    if not event.contains(session_class, "before_flush", _stamp_actor):
        event.listen(session_class, "before_flush", _stamp_actor)
