"""我的信息: a resident's own contact preference and the family members on the units they own.

The resident's own record is theirs: no staff field level applies. Family members are other
customers, so reading and linking them runs as the system (the caller's job) only after these rules
have checked that the unit is one the resident owns. A family member a resident added in the portal
(PortalFamilyLink) is theirs to remove; ties staff made are not.
"""

import dataclasses

from flask_babel import lazy_gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.core.errors import DomainError, NotAllowed
from app.models import Customer, CustomerUnit, PortalFamilyLink, Unit
from app.notices.notify import customer_address
from app.core.column_types import NOTIFY_CHANNELS
from app.core.validation import check_value, normalize_phone

NOT_YOURS = _("You can add family members only to a unit you own.")


@dataclasses.dataclass
class FamilyMember:
    link_id: int  # the CustomerUnit tie
    name: str
    phone: str
    removable: bool


@dataclasses.dataclass
class HomeUnit:
    tie: CustomerUnit
    family: list


def own_ties(session, customer_id):
    """The resident's ties to units (楼栋-房号 and relation), oldest first."""
    return (
        session.execute(
            select(CustomerUnit)
            .where(CustomerUnit.customer_id == customer_id)
            .options(joinedload(CustomerUnit.unit).joinedload(Unit.building))
            .order_by(CustomerUnit.id)
        )
        .scalars()
        .all()
    )


def household(session, customer_id):
    """Each of the resident's units with the family members linked to it (as the system reads them)."""
    ties = own_ties(session, customer_id)
    unit_ids = [tie.unit_id for tie in ties]
    family = (
        session.execute(
            select(CustomerUnit, Customer, PortalFamilyLink.added_by_id)
            .join(Customer, Customer.id == CustomerUnit.customer_id)
            .outerjoin(PortalFamilyLink, PortalFamilyLink.customer_unit_id == CustomerUnit.id)
            .where(
                CustomerUnit.unit_id.in_(unit_ids),
                CustomerUnit.relation == "family",
                CustomerUnit.customer_id != customer_id,
            )
            .order_by(CustomerUnit.id)
        ).all()
        if unit_ids
        else []
    )
    return [
        HomeUnit(
            tie,
            [
                FamilyMember(member_tie.id, member.name, member.phone, added_by == customer_id)
                for member_tie, member, added_by in family
                if member_tie.unit_id == tie.unit_id
            ],
        )
        for tie in ties
    ]


def channels_for(customer, order):
    """The channels a resident may prefer: those the firm uses (its configured order, in-app being
    staff passing a message on) on which the firm has an address for them."""
    return [c for c in order if c != "inapp" and c in NOTIFY_CHANNELS and customer_address(customer, c, None)]


def set_preferred_channel(session, customer, channel, order):
    """Save the resident's preferred channel; one the firm does not use, or has no address for, is refused."""
    if channel not in channels_for(customer, order):
        raise DomainError(_("Choose one of the channels offered."), field="channel")
    customer.preferred_channel = channel
    session.commit()


def _owned_unit(session, customer_id, unit_id):
    tie = session.execute(
        select(CustomerUnit).where(
            CustomerUnit.customer_id == customer_id, CustomerUnit.unit_id == unit_id, CustomerUnit.relation == "owner"
        )
    ).scalar_one_or_none()
    if tie is None:
        raise NotAllowed(NOT_YOURS, field="unit")
    return tie


def add_family_member(session, resident_id, unit_id, name, phone, now, allowed):
    """Link a family member (name, mobile) to a unit the resident owns, creating the customer when
    the number is new. A number the firm already has is linked only when the name matches it."""
    if not allowed:
        raise NotAllowed(_("Family members are added by the service centre. Please contact them."))
    _owned_unit(session, resident_id, unit_id)
    name, phone = (name or "").strip(), normalize_phone(phone).replace("-", "")
    if not name or len(name) > 50:
        raise DomainError(_("Enter the family member's name (at most 50 characters)."), field="name")
    if not phone or check_value("phone", phone) or not phone.startswith("1"):
        raise DomainError(_("Enter the family member's 11-digit mobile number."), field="phone")
    member = session.execute(select(Customer).where(Customer.phone == phone)).scalar_one_or_none()
    if member is None:
        member = Customer(name=name, phone=phone, type="other", status="active", preferred_channel="sms")
        session.add(member)
        session.flush()
    elif member.name != name:
        raise DomainError(
            _("This mobile number is registered under another name. Please contact the service centre."),
            field="phone",
        )
    linked = session.execute(
        select(CustomerUnit.id).where(CustomerUnit.customer_id == member.id, CustomerUnit.unit_id == unit_id)
    ).first()
    if linked is not None:
        raise DomainError(_("This person is already linked to this unit."), field="phone")
    tie = CustomerUnit(customer_id=member.id, unit_id=unit_id, relation="family", move_in=None)
    session.add(tie)
    session.flush()
    session.add(PortalFamilyLink(customer_unit_id=tie.id, added_by_id=resident_id, created_at=now))
    session.commit()
    return tie


def remove_family_member(session, resident_id, tie_id):
    """Unlink a family member the resident added; anyone else's (or a tie staff made) is not found."""
    link = session.execute(
        select(PortalFamilyLink).where(
            PortalFamilyLink.customer_unit_id == tie_id, PortalFamilyLink.added_by_id == resident_id
        )
    ).scalar_one_or_none()
    tie = session.get(CustomerUnit, tie_id) if link is not None else None
    if tie is None:
        raise NotAllowed(_("This family member cannot be removed here."))
    session.delete(link)
    session.delete(tie)  # the person stays a customer of the firm
    session.commit()
