"""Batch edit: set chosen fields on many records in one transaction, all or nothing.

Each record is changed through the ORM, so the rules that hold for a single edit hold here
too (ticket history, actor stamps, bill settlement); records are read in chunks so tens of
thousands of rows never sit in memory at once.
"""

from flask_babel import lazy_gettext as _
from sqlalchemy.orm import selectinload

from app.core.errors import DomainError
from app.models import Building, Customer, Ticket, Unit
from app.tickets.lifecycle import check_still_changeable

# model -> fields a batch may set (tags: add/remove rather than replace)
BATCH_FIELDS = {
    Customer: ("status", "type", "tags"),
    Unit: ("status", "use"),
    Ticket: ("status", "priority", "department", "assignee"),
    Building: (),
}
CHUNK = 500


def _ticket_still_changeable(ticket, changes):
    check_still_changeable(ticket, {field: (getattr(ticket, field), value) for field, value in changes.items()})


# per-record rules checked before a record in a batch is changed: rule(record, {field: new value})
RECORD_RULES = {Ticket: _ticket_still_changeable}


def batch_fields(model):
    return BATCH_FIELDS.get(model, ())


def _check_value(model, field, value):
    column = model.__table__.columns.get(field)
    if column is not None and "choices" in column.info:
        if value not in column.info["choices"] and not (value is None and column.nullable):
            raise DomainError(_("Not a valid choice: %(value)s", value=value), field=field)
        if value is None and not column.nullable:
            raise DomainError(_("This field is required."), field=field)


def validate_changes(model, changes, access):
    """Refuse fields the model does not batch-edit or the user may not write; check choice values."""
    allowed = batch_fields(model)
    if not changes:
        raise DomainError(_("Choose at least one field to change."))
    for field, value in changes.items():
        base = field.removeprefix("add_").removeprefix("remove_") if field.startswith(("add_", "remove_")) else field
        if base not in allowed:
            raise DomainError(_("This field cannot be changed in a batch: %(field)s", field=base))
        if not access.writable(base):
            raise DomainError(_("You may not change these fields: %(fields)s", fields=base))
        if field == base:
            _check_value(model, field, value)


def apply_batch(session, query, changes, access):
    """Apply ``changes`` to every record ``query`` selects; commit once, or roll back and raise.

    ``changes`` maps field names to values; for the tags of customers use ``add_tags`` /
    ``remove_tags`` with lists of Tag objects. Returns the number of records changed.
    """
    model = query.column_descriptions[0]["entity"]
    validate_changes(model, changes, access)
    add_tags = list(changes.get("add_tags") or ())
    remove_tags = {tag.id for tag in changes.get("remove_tags") or ()}
    scalar = {k: v for k, v in changes.items() if k not in ("add_tags", "remove_tags")}
    ids = [row[0] for row in query.with_entities(model.id)]
    changed = 0
    try:
        for start in range(0, len(ids), CHUNK):
            chunk = session.query(model).filter(model.id.in_(ids[start : start + CHUNK]))
            if add_tags or remove_tags:
                chunk = chunk.options(selectinload(model.tags))
            records = chunk.all()
            rule = RECORD_RULES.get(model)
            for record in records:
                if rule:
                    rule(record, scalar)
                touched = False
                for field, value in scalar.items():
                    if getattr(record, field) != value:
                        setattr(record, field, value)
                        touched = True
                if add_tags or remove_tags:
                    current = {tag.id for tag in record.tags}
                    kept = [t for t in record.tags if t.id not in remove_tags]
                    wanted = kept + [t for t in add_tags if t.id not in current]
                    if {t.id for t in wanted} != current:
                        record.tags = wanted
                        touched = True
                changed += touched
            session.flush()  # written in this transaction; the chunk then leaves memory
            for record in records:
                session.expunge(record)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return changed
