"""Residents as the portal knows them: when they last signed in (broadcasts can address those who have)."""

from sqlalchemy import update

from app.models import Customer


def record_portal_sign_in(session, customer_id, now):
    """Stamp the customer's last portal sign-in (a plain UPDATE: bookkeeping, not a change of the record)."""
    session.execute(
        update(Customer.__table__).where(Customer.__table__.c.id == customer_id).values(portal_signed_in_at=now)
    )
    session.commit()
