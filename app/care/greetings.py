"""Care reminders (关怀): birthdays and holidays, and the greetings sent on them.

- Birthdays are compared by month and day; a customer born on 29 February is greeted on
  28 February in years without a 29th.
- Greetings go through the outbox (the customer's channels, as every notice) with a dedupe key per
  customer and occasion (``birthday:<customer>:<year>``, ``holiday:<id>:customer:<customer>``), so the
  daily job may run any number of times; each greeting is also logged as a Communication, so it
  shows on the customer's timeline.
"""

import calendar
import datetime

from flask_babel import lazy_gettext as _
from sqlalchemy import extract, or_, select

from app.core.errors import DomainError
from app.models import Communication, Customer, Holiday, OutboxMessage
from app.core.redaction import redact_for_staff
from app.notices.notify import check_template, load_template, notify_customer, render
from app.notices.notify import channel_order, customer_channels, customer_message

CHANNEL_TO_COMMUNICATION = {"wechat": "wechat", "sms": "sms", "email": "email", "inapp": "phone"}
HOLIDAY_VARIABLES = ("customer_name", "holiday")


def _born_on(day):
    """Birthdays celebrated on ``day``: the same month and day, and 29 Feb on 28 Feb of a common year."""
    same = (extract("month", Customer.birthday) == day.month) & (extract("day", Customer.birthday) == day.day)
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        return or_(same, (extract("month", Customer.birthday) == 2) & (extract("day", Customer.birthday) == 29))
    return same


def birthdays_on(session, day):
    """Active customers whose birthday is celebrated on ``day``, by name."""
    return (
        session.execute(
            select(Customer)
            .where(Customer.status == "active", Customer.birthday.isnot(None), _born_on(day))
            .order_by(Customer.name, Customer.id)
        )
        .scalars()
        .all()
    )


def upcoming_birthdays(session, today, days=7):
    """[(day, [customers])] from today for ``days`` days (across month and year ends)."""
    out = []
    for offset in range(days):
        day = today + datetime.timedelta(days=offset)
        customers = birthdays_on(session, day)
        if customers:
            out.append((day, customers))
    return out


def upcoming_holidays(session, today, days=14):
    return (
        session.execute(
            select(Holiday)
            .where(
                Holiday.active.is_(True), Holiday.date >= today, Holiday.date < today + datetime.timedelta(days=days)
            )
            .order_by(Holiday.date, Holiday.name)
        )
        .scalars()
        .all()
    )


def check_holiday(holiday):
    if (holiday.greeting_body or "").strip() and not (holiday.greeting_subject or "").strip():
        raise DomainError(_("Give the greeting a subject."), field="greeting_subject")
    check_template("holiday", holiday.greeting_subject, holiday.greeting_body, allowed=HOLIDAY_VARIABLES)


def _log(session, customer, message, now):
    session.add(
        Communication(
            customer_id=customer.id,
            at=now,
            channel=CHANNEL_TO_COMMUNICATION.get(message.channel, "phone"),
            summary=f"{message.subject}\n{redact_for_staff(message.body, message.template_key)}",
            created_at=now,
            updated_at=now,
        )
    )


def _queue_custom(session, customer, key, subject, body, now, responsible_user_id):

    if session.execute(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)).first() is not None:
        return None
    chain = customer_channels(customer, channel_order(), responsible_user_id)
    if not chain:
        return None
    message = customer_message(customer, chain, subject, body, now, responsible_user_id, dedupe_key=key)
    session.add(message)
    return message


def send_greetings(session, today, now, responsible_user_id=None):
    """Queue today's birthday greetings (the 生日祝福 template, unless switched off) and the greetings of
    today's holidays. Commits once. Returns {"birthday": n, "holiday": n} queued by this run."""
    counts = {"birthday": 0, "holiday": 0}
    if load_template(session, "birthday_greeting") is not None:
        for customer in birthdays_on(session, today):
            message = notify_customer(
                session,
                customer,
                "birthday_greeting",
                {"customer_name": customer.name},
                f"birthday:{customer.id}:{today.year}",
                now,
                responsible_user_id,
            )
            if message is not None:
                _log(session, customer, message, now)
                counts["birthday"] += 1
    holidays = session.execute(select(Holiday).where(Holiday.active.is_(True), Holiday.date == today)).scalars().all()
    for holiday in holidays:
        if not (holiday.greeting_body or "").strip():
            continue
        for customer in session.execute(
            select(Customer).where(Customer.status == "active").order_by(Customer.id)
        ).scalars():
            values = {"customer_name": customer.name, "holiday": holiday.name}
            message = _queue_custom(
                session,
                customer,
                f"holiday:{holiday.id}:customer:{customer.id}",
                render(holiday.greeting_subject or holiday.name, values),
                render(holiday.greeting_body, values),
                now,
                responsible_user_id,
            )
            if message is not None:
                _log(session, customer, message, now)
                counts["holiday"] += 1
    session.commit()
    return counts
