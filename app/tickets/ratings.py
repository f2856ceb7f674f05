"""Completion ratings: a personal, signed, expiring, single-use link; or a rating taken by phone.

The token carries only the ticket id, signed with the app's secret; "single use" is the unique
rating per ticket, so a reused link finds the rating already there and changes nothing.
"""

import datetime

from flask_babel import lazy_gettext as _
from itsdangerous import BadSignature, SignatureExpired
from sqlalchemy import select

from app.core.signing import serializer
from app.core.errors import DomainError
from app.models import Ticket, TicketRating
from app.core.column_types import RATING_SOURCES, Choices

SALT = "ticket-rating"
RATABLE = ("resolved", "closed")
# the customer's own ratings: their personal link, or signed in to the portal; staff take the others
CUSTOMER_SOURCES = ("link", "portal")
STAFF_SOURCES = Choices(*[pair for pair in RATING_SOURCES.pairs if pair[0] not in CUSTOMER_SOURCES])


class RatingLinkError(DomainError):
    """A link that is forged, expired, already used, or for a ticket not finished."""


def _serializer(secret_key):
    return serializer(secret_key, SALT)


def make_token(secret_key, ticket):
    return _serializer(secret_key).dumps({"ticket": ticket.id})


def rating_url(base_url, secret_key, ticket):
    """The customer's personal link, sent with the completion notice."""
    return f"{base_url.rstrip('/')}/rate/{make_token(secret_key, ticket)}"


def ticket_for_token(session, secret_key, token, max_age_days):
    """The ticket a rating link is for, or RatingLinkError with the reason a customer can read."""
    try:
        data = _serializer(secret_key).loads(token, max_age=int(max_age_days * 86400))
    except SignatureExpired:
        raise RatingLinkError(_("This rating link has expired."))
    except BadSignature:
        raise RatingLinkError(_("This rating link is not valid."))
    ticket = session.get(Ticket, data.get("ticket")) if isinstance(data, dict) else None
    if ticket is None:
        raise RatingLinkError(_("This rating link is not valid."))
    if ticket.rating is not None:
        raise RatingLinkError(_("Thank you — this service has already been rated."))
    if ticket.status not in RATABLE:
        raise RatingLinkError(_("This request is not finished yet."))
    return ticket


def check_rating(session, ticket, stars, source, recorded_by_id):
    """The one rule for a rating, whoever takes it; returns the stars as a number.

    1 to 5 stars, for a finished ticket, once. A "link" or "portal" rating is the customer's own, through
    their personal link or signed in to the portal: nobody records one for them. A rating staff take (by phone, in person) names the
    staff member who recorded it.
    """
    try:
        stars = int(stars)
    except (TypeError, ValueError):
        stars = 0
    if not 1 <= stars <= 5:
        raise DomainError(_("Choose from 1 to 5 stars."), field="stars")
    if ticket is None:
        raise DomainError(_("This field is required."), field="ticket")
    if ticket.status not in RATABLE:
        raise DomainError(_("This request is not finished yet."))
    with session.no_autoflush:  # the rating being added may already hang on the ticket, unsaved
        rated = session.execute(select(TicketRating.id).where(TicketRating.ticket_id == ticket.id)).first()
    if rated is not None:
        raise RatingLinkError(_("Thank you — this service has already been rated."))
    if source not in RATING_SOURCES:
        raise DomainError(_("Not a valid choice: %(value)s", value=source), field="source")
    if source in CUSTOMER_SOURCES and recorded_by_id is not None:
        raise DomainError(
            _(
                "A rating taken by staff is recorded as by phone or in person; only the customer's "
                "own link gives a link rating."
            ),
            field="source",
        )
    if source in STAFF_SOURCES and recorded_by_id is None:
        raise DomainError(
            _("A rating taken by phone or in person needs the staff member who recorded it."), field="source"
        )
    return stars


def record_rating(session, ticket, stars, comment, source, now, recorded_by_id=None):
    """Save one rating for a finished ticket (check_rating); a second one is refused."""
    stars = check_rating(session, ticket, stars, source, recorded_by_id)
    session.add(
        TicketRating(
            ticket=ticket,
            stars=stars,
            comment=(comment or "").strip()[:2000] or None,
            source=source,
            rated_at=now,
            recorded_by_id=recorded_by_id,
        )
    )
    session.commit()


def close_resolved(session, now, after_days):
    """Close tickets resolved more than ``after_days`` ago and not reopened; returns how many."""
    cutoff = now - datetime.timedelta(days=after_days)
    # SKIP LOCKED (PostgreSQL): a concurrent run leaves the rows this one holds alone, so a ticket is
    # closed, logged and its customer told once; SQLite serialises writing transactions anyway
    tickets = (
        session.query(Ticket)
        .filter(Ticket.status == "resolved", Ticket.resolved_at < cutoff)
        .with_for_update(skip_locked=True, of=Ticket)
        .all()
    )
    for ticket in tickets:
        ticket.status = "closed"
    session.commit()
    return len(tickets)
