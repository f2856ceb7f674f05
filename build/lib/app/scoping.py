"""Row-level scoping: which tickets (and their history, files, ratings) and staff a user may reach.

Enforced on the ORM itself (``with_loader_criteria`` on every SELECT of the session, relation
loads included), so pages, the API, exports, batch edit, lookups, actions and reports all see the
same rows — a scoped user asking for another row by id simply does not find it (404).

- Technician (no managing role): tickets assigned to them, and their department's unassigned pool.
- A ticket's history, files, rating, return visit and maintenance record follow the ticket.
- Supervisor (no wider role): their department's tickets (and any assigned to them), and their
  department's staff.
- Admin, Manager, Service, jobs and CLI: everything.
"""
from dataclasses import dataclass

from flask import g, has_request_context
from sqlalchemy import and_, event, or_, select
from sqlalchemy.orm import Session, with_loader_criteria

from app.models import (MaintenanceOccurrence, ReturnVisit, StaffProfile, Ticket, TicketAttachment, TicketEvent,
                        TicketRating)

UNSCOPED_ROLES = {"Admin", "Manager", "Service"}


@dataclass(frozen=True)
class Scope:
    kind: str  # "technician" or "supervisor"
    user_id: int
    departments: tuple


def scope_for(session, user):
    """The Scope that limits ``user``, or None for everything."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    roles = {role.name for role in user.roles}
    if roles & UNSCOPED_ROLES or not roles & {"Technician", "Supervisor"}:
        return None
    departments = tuple(session.execute(
        select(StaffProfile.department_id).where(StaffProfile.user_id == user.id,
                                                 StaffProfile.department_id.isnot(None))
        .execution_options(crm_unscoped=True)
    ).scalars())
    return Scope("supervisor" if "Supervisor" in roles else "technician", user.id, departments)


def current_scope(session):
    """This request's scope, worked out once per request."""
    if not has_request_context():
        return None
    cached = g.get("_crm_scope", "unset")
    if cached == "unset":
        g._crm_scope = None  # while it is being worked out, the lookup itself is not scoped
        g._crm_scope = scope_for(session, getattr(g, "user", None))
        cached = g._crm_scope
    return cached


def ticket_criterion(scope):
    user_id, departments = scope.user_id, scope.departments
    if scope.kind == "technician":
        return lambda cls: or_(cls.assignee_id == user_id,
                               and_(cls.assignee_id.is_(None), cls.department_id.in_(departments)))
    return lambda cls: or_(cls.department_id.in_(departments), cls.assignee_id == user_id)


def _options(scope):
    tickets = ticket_criterion(scope)
    visible = select(Ticket.id).where(tickets(Ticket))
    options = [
        with_loader_criteria(Ticket, tickets, include_aliases=True, track_closure_variables=True),
        with_loader_criteria(TicketEvent, lambda cls: cls.ticket_id.in_(visible), include_aliases=True,
                             track_closure_variables=True),
        with_loader_criteria(TicketAttachment, lambda cls: cls.ticket_id.in_(visible), include_aliases=True,
                             track_closure_variables=True),
        with_loader_criteria(TicketRating, lambda cls: cls.ticket_id.in_(visible), include_aliases=True,
                             track_closure_variables=True),
        # a ticket's return visit and maintenance record go with the ticket
        with_loader_criteria(ReturnVisit, lambda cls: cls.ticket_id.in_(visible), include_aliases=True,
                             track_closure_variables=True),
        with_loader_criteria(MaintenanceOccurrence, lambda cls: cls.ticket_id.in_(visible), include_aliases=True,
                             track_closure_variables=True),
    ]
    if scope.kind == "supervisor":
        user_id, departments = scope.user_id, scope.departments
        options.append(with_loader_criteria(
            StaffProfile, lambda cls: or_(cls.department_id.in_(departments), cls.user_id == user_id),
            include_aliases=True, track_closure_variables=True))
    return options


def _limit_rows(execute_state):
    if not execute_state.is_select or execute_state.execution_options.get("crm_unscoped"):
        return
    scope = current_scope(execute_state.session)
    if scope is not None:
        execute_state.statement = execute_state.statement.options(*_options(scope))


def register(session_class=Session):
    if not event.contains(session_class, "do_orm_execute", _limit_rows):
        event.listen(session_class, "do_orm_execute", _limit_rows)
