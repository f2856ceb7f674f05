"""Row-level scoping: which tickets (and their history, files, ratings) and staff a principal may reach.

Enforced on the ORM itself (``with_loader_criteria`` on every SELECT of the session, relation
loads included), so pages, the API (cookie or token), exports, batch edit, lookups, actions,
reports and jobs acting for a user all see the same rows — a scoped user asking for another row
by id simply does not find it (404).

The scope is a permission of the principal (app.policy.principal), never a role name:
- (can_see_all, Ticket): every ticket;
- (can_see_department, Ticket): their departments' tickets, and any assigned to them;
- neither: tickets assigned to them, and their departments' unassigned pool;
- nobody signed in: no ticket.
A ticket's history, files, rating, return visit and maintenance record follow the ticket.
Staff profiles are limited to the user's departments (and their own) by (can_see_department,
StaffProfile) without (can_see_all, StaffProfile); outbox messages to those addressed to them without
(can_see_all, OutboxMessage); a ticket's change history follows the ticket. Anyone else signed in may see every profile their
permissions open (assignees' names on tickets), nobody signed in sees none.
"""

from sqlalchemy import and_, event, false, or_, select
from sqlalchemy.orm import Session, with_loader_criteria

from app.models import (
    Activity,
    ActivitySignUp,
    Bill,
    Broadcast,
    ChangeLog,
    Customer,
    CustomerUnit,
    MaintenanceOccurrence,
    NoticeRead,
    OutboxMessage,
    Payment,
    PaymentNotification,
    PaymentOrder,
    PortalFamilyLink,
    PortalSignInAttempt,
    PortalSignInCode,
    ReturnVisit,
    StaffProfile,
    Ticket,
    TicketAttachment,
    TicketEvent,
    TicketRating,
    Unit,
)
from app.policy.principal import SCOPE_ALL, SCOPE_DEPARTMENT, SCOPE_NONE, SCOPE_OWN, current_principal
from app.policy.permissions import RESOURCE_OUTBOX, RESOURCE_STAFF, RESOURCE_TICKET


def ticket_criterion(principal):
    """The rows of Ticket the principal reaches, as a criterion on the class (None: all)."""
    scope = principal.scope(RESOURCE_TICKET)
    user_id, departments = principal.user_id, principal.departments
    if scope == SCOPE_ALL:
        return None
    if scope == SCOPE_NONE:
        return lambda cls: false()
    if scope == SCOPE_OWN:
        return lambda cls: or_(
            cls.assignee_id == user_id, and_(cls.assignee_id.is_(None), cls.department_id.in_(departments))
        )
    return lambda cls: or_(cls.department_id.in_(departments), cls.assignee_id == user_id)


def _follow_ticket(model, visible):
    return with_loader_criteria(
        model, lambda cls: cls.ticket_id.in_(visible), include_aliases=True, track_closure_variables=True
    )


def _own(model, criterion):
    return with_loader_criteria(model, criterion, include_aliases=True, track_closure_variables=True)


def resident_options(customer_id):
    """A resident (portal) reaches their own record, units, tickets, bills and payments, whatever id
    they put in a URL; staff records and messages not at all."""
    own_units = select(CustomerUnit.unit_id).where(CustomerUnit.customer_id == customer_id)
    own_bills = select(Bill.id).where(Bill.customer_id == customer_id)
    own_tickets = select(Ticket.id).where(Ticket.customer_id == customer_id)
    outbox = OutboxMessage.__table__
    own_broadcasts = select(outbox.c.broadcast_id).where(outbox.c.customer_id == customer_id)
    return [
        _own(Customer, lambda cls: cls.id == customer_id),
        _own(CustomerUnit, lambda cls: cls.customer_id == customer_id),
        _own(Unit, lambda cls: cls.id.in_(own_units)),
        _own(Ticket, lambda cls: cls.customer_id == customer_id),
        *[_follow_ticket(model, own_tickets) for model in (TicketEvent, TicketAttachment, TicketRating)],
        _own(Bill, lambda cls: cls.customer_id == customer_id),
        _own(Payment, lambda cls: cls.bill_id.in_(own_bills)),
        _own(OutboxMessage, lambda cls: false()),
        _own(StaffProfile, lambda cls: false()),
        _own(ChangeLog, lambda cls: false()),
        _own(ReturnVisit, lambda cls: false()),
        _own(MaintenanceOccurrence, lambda cls: false()),
        _own(PaymentOrder, lambda cls: cls.customer_id == customer_id),
        _own(PaymentNotification, lambda cls: false()),
        _own(PortalSignInCode, lambda cls: false()),
        _own(PortalSignInAttempt, lambda cls: false()),
        _own(PortalFamilyLink, lambda cls: cls.added_by_id == customer_id),
        # notices: the broadcasts queued to them (read through the outbox table, not its scoped class)
        _own(Broadcast, lambda cls: cls.id.in_(own_broadcasts)),
        _own(NoticeRead, lambda cls: cls.customer_id == customer_id),
        _own(Activity, lambda cls: cls.status.in_(("published", "cancelled"))),
        _own(ActivitySignUp, lambda cls: cls.customer_id == customer_id),
    ]


def options_for(principal):
    """The loader criteria that limit a statement to what ``principal`` may reach."""
    if principal.is_resident:
        return resident_options(principal.customer_id)
    options = []
    tickets = ticket_criterion(principal)
    if tickets is not None:
        visible = select(Ticket.id).where(tickets(Ticket))
        options.append(with_loader_criteria(Ticket, tickets, include_aliases=True, track_closure_variables=True))
        options += [
            _follow_ticket(model, visible)
            for model in (TicketEvent, TicketAttachment, TicketRating, ReturnVisit, MaintenanceOccurrence)
        ]
        # the change history of a ticket is the ticket's too
        options.append(
            with_loader_criteria(
                ChangeLog,
                lambda cls: or_(cls.resource != "Ticket", cls.record_id.in_(visible)),
                include_aliases=True,
                track_closure_variables=True,
            )
        )
    outbox = principal.scope(RESOURCE_OUTBOX)
    if outbox == SCOPE_NONE:
        options.append(with_loader_criteria(OutboxMessage, lambda cls: false(), include_aliases=True))
    elif outbox != SCOPE_ALL:  # without (can_see_all, OutboxMessage): only the messages addressed to them
        user_id = principal.user_id
        options.append(
            with_loader_criteria(
                OutboxMessage, lambda cls: cls.user_id == user_id, include_aliases=True, track_closure_variables=True
            )
        )
    staff = principal.scope(RESOURCE_STAFF)
    if staff == SCOPE_NONE:
        options.append(with_loader_criteria(StaffProfile, lambda cls: false(), include_aliases=True))
    elif staff == SCOPE_DEPARTMENT:
        user_id, departments = principal.user_id, principal.departments
        options.append(
            with_loader_criteria(
                StaffProfile,
                lambda cls: or_(cls.department_id.in_(departments), cls.user_id == user_id),
                include_aliases=True,
                track_closure_variables=True,
            )
        )
    return options


def _limit_rows(execute_state):
    if not execute_state.is_select or execute_state.execution_options.get("crm_unscoped"):
        return
    principal = current_principal()
    if principal.kind == "resolving":
        return
    options = options_for(principal)
    if options:
        execute_state.statement = execute_state.statement.options(*options)


def register(session_class=Session):
    if not event.contains(session_class, "do_orm_execute", _limit_rows):
        event.listen(session_class, "do_orm_execute", _limit_rows)
