"""The resident portal's own bookkeeping: one-time sign-in codes and the attempts made with them."""

from flask_appbuilder.models.sqla import Model
from sqlalchemy import Column, ForeignKey, Index, Integer, String

from app.core.column_types import UTCDateTime


class PortalSignInCode(Model):
    """A one-time code asked for by a mobile number. Only an HMAC of the code is kept; a request for a
    number no customer has is recorded too (without a code) so that it counts against the limits."""

    __audited__ = False  # secrets and sign-in bookkeeping are never copied into the change history

    __tablename__ = "portal_sign_in_code"
    __table_args__ = (
        Index("ix_portal_code_phone_created", "phone", "created_at"),
        Index("ix_portal_code_address_created", "client_address", "created_at"),
    )

    id = Column(Integer, primary_key=True)
    phone = Column(String(20), nullable=False)
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    client_address = Column(String(45), nullable=False)
    code_hash = Column(String(64))  # None: nobody has this number, nothing was sent
    tries = Column(Integer, nullable=False, default=0)
    created_at = Column(UTCDateTime, nullable=False)
    expires_at = Column(UTCDateTime, nullable=False)
    used_at = Column(UTCDateTime)  # signed in with it, or replaced by a newer code

    def __str__(self):
        return f"{self.phone[:3]}****{self.phone[-4:]}"


class PortalSignInAttempt(Model):
    """A wrong code, or a sign-in, per number: wrong ones in a row lock the number for a while."""

    __audited__ = False

    __tablename__ = "portal_sign_in_attempt"
    __table_args__ = (Index("ix_portal_attempt_phone_at", "phone", "at"),)

    id = Column(Integer, primary_key=True)
    phone = Column(String(20), nullable=False)
    client_address = Column(String(45), nullable=False)
    outcome = Column(String(10), nullable=False)  # "wrong" or "signed_in"
    at = Column(UTCDateTime, nullable=False)

    def __str__(self):
        return self.outcome


class PortalFamilyLink(Model):
    """A family member's tie to a unit that a resident added in the portal (我的信息): theirs to remove."""

    __audited__ = True

    __tablename__ = "portal_family_link"

    id = Column(Integer, primary_key=True)
    customer_unit_id = Column(Integer, ForeignKey("customer_unit.id", ondelete="CASCADE"), nullable=False, unique=True)
    added_by_id = Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at = Column(UTCDateTime, nullable=False)

    def __str__(self):
        return str(self.customer_unit_id)
