"""Contracts (合同): the approval step, expiry, and reminders to the responsible staff.

Status moves: draft → pending (submitted) → active (approved by a supervisor or admin) or back to
draft (rejected); active → terminated (by a supervisor or admin) or expired (by the daily job,
the day after the end date). Only drafts are edited.

Reminders go to the responsible staff member's inbox: once when the end date is ``remind_days``
away, and ``rent_remind_days`` before each rent due date. Each reminder is a ContractReminder
row with a unique (contract, kind, due date), so the job may run any number of times a day.
"""

import datetime

from dateutil.relativedelta import relativedelta
from flask_babel import lazy_gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.core.errors import DomainError, NotAllowed
from app.models import Contract, ContractReminder
from app.notices.notify import notify_staff
from app.policy.principal import permits, users_with_permission
from app.policy.permissions import ACTION_APPROVE, RESOURCE_CONTRACT
from app.core.column_types import CONTRACT_STATUSES, PAYMENT_CYCLES
from app.extensions import db

CYCLE_MONTHS = {"monthly": 1, "quarterly": 3, "half_yearly": 6, "yearly": 12}


def rent_due_dates(contract):
    """The rent due dates: the start date and every payment cycle after it, before the end date."""
    if contract.start_date is None or contract.end_date is None:
        return []
    months = CYCLE_MONTHS.get(contract.payment_cycle)
    if months is None:  # paid once
        return [contract.start_date]
    dates, k = [], 0
    while True:
        # the same day each cycle, or the month's last day when it has none (31 Jan → 28/29 Feb)
        due = contract.start_date + relativedelta(months=k * months)
        if due > contract.end_date:
            return dates
        dates.append(due)
        k += 1


def check_contract(contract):
    """The parties and dates a contract must have, whoever saves it."""
    if contract.kind == "supplier":
        if contract.supplier is None and contract.supplier_id is None:
            raise DomainError(_("A supplier contract needs the supplier."), field="supplier")
    elif contract.customer is None and contract.customer_id is None:
        raise DomainError(_("A lease or service contract needs the customer."), field="customer")
    if contract.start_date and contract.end_date and contract.end_date < contract.start_date:
        raise DomainError(_("The end date cannot be before the start date."), field="end_date")
    for name in ("remind_days", "rent_remind_days"):
        value = getattr(contract, name)
        if value is not None and not 0 <= value <= 366:
            raise DomainError(_("Between 0 and 366 days."), field=name)


def check_editable(contract):
    if contract.id is not None and contract.status != "draft":
        raise DomainError(
            _(
                "Only a draft contract can be changed; this one is %(status)s.",
                status=CONTRACT_STATUSES.label(contract.status),
            )
        )


def _approver(actor):

    return permits(db.session, actor, ACTION_APPROVE, RESOURCE_CONTRACT)


def _move(contract, allowed_from, message):
    if contract.status not in allowed_from:
        raise DomainError(
            _(
                "%(action)s is not possible for a contract that is %(status)s.",
                action=message,
                status=CONTRACT_STATUSES.label(contract.status),
            )
        )


def submit(session, contract, now):
    """A draft goes to a supervisor for approval."""
    _move(contract, ("draft",), _("Submitting"))
    check_contract(contract)
    contract.status, contract.submitted_at = "pending", now
    session.commit()


def approve(session, contract, actor, now, today):
    """A supervisor or admin approves: the contract is in effect (or already expired if it ended)."""
    if not _approver(actor):
        raise NotAllowed(_("Only a supervisor or an administrator can approve contracts."))
    _move(contract, ("pending",), _("Approving"))
    contract.status = "expired" if contract.end_date < today else "active"
    contract.approved_at, contract.approved_by_id = now, actor.id
    session.commit()


def reject(session, contract, actor):
    """Sent back to its author as a draft."""
    if not _approver(actor):
        raise NotAllowed(_("Only a supervisor or an administrator can approve contracts."))
    _move(contract, ("pending",), _("Rejecting"))
    contract.status, contract.submitted_at = "draft", None
    session.commit()


def terminate(session, contract, actor, now):
    if not _approver(actor):
        raise NotAllowed(_("Only a supervisor or an administrator can terminate contracts."))
    _move(contract, ("active",), _("Terminating"))
    contract.status, contract.terminated_at = "terminated", now
    session.commit()


def expire_contracts(session, today):
    """Active contracts whose end date has passed become expired. Returns how many."""
    result = session.execute(
        update(Contract)
        .where(Contract.status == "active", Contract.end_date < today)
        .values(status="expired")
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount


def _recipients(session, contract):
    """The responsible staff member; without one, the supervisors (Admin/Supervisor roles)."""
    if contract.responsible_id is not None:
        return [contract.responsible_id]
    return users_with_permission(session, ACTION_APPROVE, RESOURCE_CONTRACT)


def _claim(session, contract, kind, due, now, recipients):
    """Insert the reminder row; False when another run already did (nothing is sent twice)."""
    exists = session.execute(
        select(ContractReminder.id).where(
            ContractReminder.contract_id == contract.id, ContractReminder.kind == kind, ContractReminder.due_date == due
        )
    ).first()
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                ContractReminder(
                    contract_id=contract.id, kind=kind, due_date=due, sent_at=now, recipients=len(recipients)
                )
            )
    except IntegrityError:
        return False
    return True


def _values(contract, due):
    return {
        "contract_number": contract.number,
        "title": contract.title,
        "party": str(contract.customer or contract.supplier or ""),
        "end_date": contract.end_date.isoformat(),
        "due_date": due.isoformat(),
        "amount": f"{contract.amount:,.2f}",
        "payment_cycle": PAYMENT_CYCLES.label(contract.payment_cycle),
    }


def send_reminders(session, today, now):
    """Remind the responsible staff of contracts ending soon and rent falling due. Commits once.

    Returns {"expiry": n, "rent": n}: reminders sent by this run (0 when run again the same day).
    """
    counts = {"expiry": 0, "rent": 0}
    contracts = (
        session.execute(
            select(Contract).where(Contract.status == "active", Contract.end_date >= today).order_by(Contract.id)
        )
        .scalars()
        .all()
    )
    for contract in contracts:
        recipients = _recipients(session, contract)
        link = f"/contractview/show/{contract.id}"
        if today >= contract.end_date - datetime.timedelta(days=contract.remind_days):
            if _claim(session, contract, "expiry", contract.end_date, now, recipients):
                values = dict(_values(contract, contract.end_date), days_left=(contract.end_date - today).days)
                notify_staff(session, recipients, "contract_expiry", values, link, now)
                counts["expiry"] += 1
        for due in rent_due_dates(contract):
            if due < today or due - datetime.timedelta(days=contract.rent_remind_days) > today:
                continue
            if _claim(session, contract, "rent", due, now, recipients):
                values = dict(_values(contract, due), days_left=(due - today).days)
                notify_staff(session, recipients, "contract_rent_due", values, link, now)
                counts["rent"] += 1
    session.commit()
    return counts


def daily(session, today, now):
    """The job: expire what ended, then remind. Safe to run any number of times."""
    expired = expire_contracts(session, today)
    return dict(send_reminders(session, today, now), expired=expired)
