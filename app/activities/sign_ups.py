"""社区活动: publishing an activity to a segment, residents signing up and cancelling, attendance.

Capacity holds under concurrent sign-ups: a sign-up raises ``Activity.signed_up_count`` with one
conditional UPDATE (``… WHERE signed_up_count < capacity``) and fails when no row was changed, in the
same transaction as the sign-up row; PostgreSQL re-checks the condition on the row it waited for,
SQLite runs one writer at a time. The database's own check (``signed_up_count <= capacity``) is
the last guard.
"""

from dataclasses import dataclass
from types import SimpleNamespace

from flask_babel import lazy_gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.notices.broadcasts import segment
from app.core.errors import DomainError
from app.models import Activity, ActivitySignUp, Customer

OPEN_TO_RESIDENTS = ("published", "cancelled")


class ActivityNotFound(DomainError):
    status = 404

    def __init__(self):
        super().__init__(_("No such activity."))


@dataclass
class Listing:
    activity: Activity
    sign_up: ActivitySignUp | None  # the resident's active sign-up, if any
    places_left: int


def _audience(activity):
    # an activity's segment is a broadcast's (app.notices.broadcasts.segment): buildings and tags, all must hold
    return SimpleNamespace(
        buildings=activity.buildings,
        tags=activity.tags,
        customer_type=None,
        saved_view=None,
        min_arrears=None,
        portal_residents=False,
    )


def in_segment(session, activity, customer_id):
    """Whether the activity is open to this customer (an active customer of its buildings and tags)."""
    query = segment(_audience(activity), None).where(Customer.id == customer_id).limit(1)
    return session.execute(query).first() is not None


def places_left(activity):
    return max(activity.capacity - activity.signed_up_count, 0)


def check_activity(activity):
    """The rules on an activity staff save: times in order, deadline before the end."""
    if activity.starts_at and activity.ends_at and activity.ends_at < activity.starts_at:
        raise DomainError(_("The activity cannot end before it starts."), field="ends_at")
    if activity.sign_up_deadline and activity.ends_at and activity.sign_up_deadline > activity.ends_at:
        raise DomainError(_("The sign-up deadline must be before the activity ends."), field="sign_up_deadline")
    if activity.capacity is not None and activity.capacity < (activity.signed_up_count or 0):
        raise DomainError(
            _(
                "The capacity cannot be below the %(count)s residents already signed up.",
                count=activity.signed_up_count,
            ),
            field="capacity",
        )


def activities_for(session, customer_id, now, limit=50):
    """What the resident's 社区活动 page lists: published activities of their segment not yet over,
    and those they signed up for (a cancelled one shows as cancelled), soonest first."""
    activities = (
        session.execute(
            select(Activity)
            .where(Activity.status.in_(OPEN_TO_RESIDENTS), Activity.ends_at >= now)
            .order_by(Activity.starts_at, Activity.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    mine = {
        s.activity_id: s
        for s in session.execute(
            select(ActivitySignUp).where(
                ActivitySignUp.customer_id == customer_id,
                ActivitySignUp.activity_id.in_([a.id for a in activities]),
                ActivitySignUp.cancelled_at.is_(None),
            )
        ).scalars()
    }
    listings = []
    for activity in activities:
        sign_up = mine.get(activity.id)
        if sign_up is None and (activity.status != "published" or not in_segment(session, activity, customer_id)):
            continue
        listings.append(Listing(activity, sign_up, places_left(activity)))
    return listings


def activity_for(session, activity_id, customer_id):
    """One activity as the resident may open it (published or cancelled, of their segment or signed up)."""
    activity = session.get(Activity, activity_id)
    if activity is None or activity.status not in OPEN_TO_RESIDENTS:
        raise ActivityNotFound()
    sign_up = _active_sign_up(session, activity_id, customer_id)
    if sign_up is None and not in_segment(session, activity, customer_id):
        raise ActivityNotFound()
    return Listing(activity, sign_up, places_left(activity))


def _sign_up_row(session, activity_id, customer_id):
    return session.execute(
        select(ActivitySignUp).where(
            ActivitySignUp.activity_id == activity_id, ActivitySignUp.customer_id == customer_id
        )
    ).scalar_one_or_none()


def _active_sign_up(session, activity_id, customer_id):
    row = _sign_up_row(session, activity_id, customer_id)
    return row if row is not None and row.cancelled_at is None else None


def sign_up(session, activity_id, customer_id, now):
    """Sign the resident up: refused (nothing changed) when the activity is not theirs to join, is
    cancelled, past its deadline or full, or when they have already signed up. Signing up again
    after cancelling reuses their row."""
    activity = session.get(Activity, activity_id)
    if activity is None or activity.status not in OPEN_TO_RESIDENTS:
        raise ActivityNotFound()
    if not in_segment(session, activity, customer_id):
        raise DomainError(_("This activity is not open to residents of your building or group."))
    if activity.status == "cancelled":
        raise DomainError(_("This activity has been cancelled."))
    if now >= activity.sign_up_deadline:
        raise DomainError(_("Sign-up for this activity has closed."))
    row = _sign_up_row(session, activity_id, customer_id)
    if row is not None and row.cancelled_at is None:
        raise DomainError(_("You have already signed up for this activity."))
    taken = session.execute(
        update(Activity)
        .where(
            Activity.id == activity_id,
            Activity.status == "published",
            Activity.sign_up_deadline > now,
            Activity.signed_up_count < Activity.capacity,
        )
        .values(signed_up_count=Activity.signed_up_count + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        session.rollback()
        raise DomainError(_("This activity is full."))
    try:
        if row is None:
            row = ActivitySignUp(activity_id=activity_id, customer_id=customer_id, signed_up_at=now)
            session.add(row)
            session.flush()
        else:
            again = session.execute(
                update(ActivitySignUp)
                .where(ActivitySignUp.id == row.id, ActivitySignUp.cancelled_at.isnot(None))
                .values(cancelled_at=None, signed_up_at=now, attended=None)
                .execution_options(synchronize_session=False)
            ).rowcount
            if again != 1:
                raise IntegrityError("sign up again", None, Exception("already signed up"))
    except IntegrityError:  # the same resident, twice at once: the other request signed them up
        session.rollback()
        raise DomainError(_("You have already signed up for this activity.")) from None
    session.commit()
    return session.get(ActivitySignUp, row.id, populate_existing=True)


def cancel_sign_up(session, sign_up_id, customer_id, now):
    """The resident cancels their own sign-up before the deadline; the place is freed. Returns the activity id."""
    row = session.get(ActivitySignUp, sign_up_id)
    if row is None or row.customer_id != customer_id:
        raise ActivityNotFound()
    if row.cancelled_at is not None:
        raise DomainError(_("This sign-up has already been cancelled."))
    activity = row.activity
    if activity is None:  # taken back to a draft: not the resident's to see
        raise ActivityNotFound()
    if activity.status == "published" and now >= activity.sign_up_deadline:
        raise DomainError(_("Sign-ups can no longer be cancelled after the deadline."))
    done = session.execute(
        update(ActivitySignUp)
        .where(ActivitySignUp.id == sign_up_id, ActivitySignUp.cancelled_at.is_(None))
        .values(cancelled_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        session.rollback()
        raise DomainError(_("This sign-up has already been cancelled."))
    activity_id = activity.id
    session.execute(
        update(Activity)
        .where(Activity.id == activity_id, Activity.signed_up_count > 0)
        .values(signed_up_count=Activity.signed_up_count - 1)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return activity_id


def mark_attendance(session, sign_up_ids, attended):
    """Staff mark who came (True) or did not (False); cancelled sign-ups are left alone. Returns how many."""
    rows = (
        session.execute(
            select(ActivitySignUp).where(ActivitySignUp.id.in_(sign_up_ids), ActivitySignUp.cancelled_at.is_(None))
        )
        .scalars()
        .all()
    )
    for row in rows:
        row.attended = attended
    session.commit()
    return len(rows)
