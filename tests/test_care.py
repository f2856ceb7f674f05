"""Care reminders: birthdays (across month and year ends, 29 February), holidays, greetings once, on the timeline."""

import datetime

import pytest

from app.care import greetings as care
from app.core.errors import DomainError
from app.extensions import db
from app.models import Communication, Holiday, MessageTemplate, OutboxMessage
from app.policy.principal import SYSTEM
from app.customers.timeline import customer_timeline
from app.core.column_types import UTC
from tests import factories

NOW = datetime.datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def born(year, month, day, **kw):
    return factories.customer(birthday=datetime.date(year, month, day), **kw)


def names(customers):
    return sorted(c.name for c in customers)


def test_birthdays_today_match_month_and_day(ctx):
    today = born(1980, 11, 23, name="今天")
    born(1990, 11, 24, name="明天")
    born(1990, 10, 23, name="上个月")
    factories.customer(name="没有生日")
    born(1985, 11, 23, name="已搬走", status="moved_out")
    assert [c.id for c in care.birthdays_on(db.session, datetime.date(2026, 11, 23))] == [today.id]


def test_29_february_is_celebrated_on_28_february_in_common_years(ctx):
    leap = born(2000, 2, 29, name="闰日")
    feb28 = born(1999, 2, 28, name="二月底")
    born(1999, 3, 1, name="三月一日")
    assert names(care.birthdays_on(db.session, datetime.date(2027, 2, 28))) == names([leap, feb28])
    assert names(care.birthdays_on(db.session, datetime.date(2028, 2, 28))) == names([feb28])
    assert names(care.birthdays_on(db.session, datetime.date(2028, 2, 29))) == names([leap])
    assert names(care.birthdays_on(db.session, datetime.date(2027, 3, 1))) == ["三月一日"]


def test_the_coming_week_crosses_month_and_year_ends(ctx):
    born(1970, 12, 30, name="年末")
    born(1971, 1, 2, name="新年")
    born(1972, 1, 31, name="一月底")
    born(1973, 2, 1, name="二月初")
    week = care.upcoming_birthdays(db.session, datetime.date(2026, 12, 28), 7)
    assert [(day, names(cs)) for day, cs in week] == [
        (datetime.date(2026, 12, 30), ["年末"]),
        (datetime.date(2027, 1, 2), ["新年"]),
    ]
    month_end = care.upcoming_birthdays(db.session, datetime.date(2027, 1, 30), 3)
    assert [(day, names(cs)) for day, cs in month_end] == [
        (datetime.date(2027, 1, 31), ["一月底"]),
        (datetime.date(2027, 2, 1), ["二月初"]),
    ]
    # 2027 has no 29 February: a leap-day birthday comes up on the 28th
    leap = born(2000, 2, 29, name="闰日")
    days = care.upcoming_birthdays(db.session, datetime.date(2027, 2, 27), 3)
    assert (datetime.date(2027, 2, 28), [leap]) in [(d, list(cs)) for d, cs in days]


def test_birthday_greetings_go_out_once_and_land_on_the_timeline(app, ctx):
    customer = born(1980, 11, 23, name="王芳")
    assert care.send_greetings(db.session, datetime.date(2026, 11, 23), NOW) == {"birthday": 1, "holiday": 0}
    assert care.send_greetings(db.session, datetime.date(2026, 11, 23), NOW) == {"birthday": 0, "holiday": 0}
    message = db.session.query(OutboxMessage).one()
    assert (message.customer_id, message.template_key, message.dedupe_key) == (
        customer.id,
        "birthday_greeting",
        f"birthday:{customer.id}:2026",
    )
    assert "王芳" in message.body and "生日快乐" in message.body
    communication = db.session.query(Communication).one()
    assert communication.customer_id == customer.id and "生日快乐" in communication.summary
    kinds = [entry.kind for entry in customer_timeline(db.session, customer.id, SYSTEM)]
    assert "communication" in kinds
    # next year, again
    assert care.send_greetings(db.session, datetime.date(2027, 11, 23), NOW) == {"birthday": 1, "holiday": 0}


def test_an_admin_can_switch_birthday_greetings_off(app, ctx):
    born(1980, 11, 23)
    db.session.add(MessageTemplate(key="birthday_greeting", subject="x", body="y", active=False))
    db.session.commit()
    assert care.send_greetings(db.session, datetime.date(2026, 11, 23), NOW) == {"birthday": 0, "holiday": 0}
    assert db.session.query(OutboxMessage).count() == 0


def test_holiday_greetings_to_every_active_customer_on_the_day(app, ctx):
    first, second = factories.customer(name="甲"), factories.customer(name="乙")
    factories.customer(name="丙", status="moved_out")
    db.session.add(
        Holiday(
            name="元旦",
            date=datetime.date(2027, 1, 1),
            greeting_subject="新年快乐",
            greeting_body="{customer_name}您好，物业服务中心祝您{holiday}快乐！",
            active=True,
        )
    )
    db.session.add(Holiday(name="腊八", date=datetime.date(2027, 1, 1), active=True))  # listed only
    db.session.commit()
    assert care.send_greetings(db.session, datetime.date(2026, 12, 31), NOW)["holiday"] == 0
    assert [h.name for h in care.upcoming_holidays(db.session, datetime.date(2026, 12, 25))] == ["元旦", "腊八"]
    assert care.send_greetings(db.session, datetime.date(2027, 1, 1), NOW)["holiday"] == 2
    assert care.send_greetings(db.session, datetime.date(2027, 1, 1), NOW)["holiday"] == 0
    bodies = sorted(m.body for m in db.session.query(OutboxMessage))
    assert bodies == ["乙您好，物业服务中心祝您元旦快乐！", "甲您好，物业服务中心祝您元旦快乐！"]
    assert {c.customer_id for c in db.session.query(Communication)} == {first.id, second.id}


def test_a_greeting_with_an_unknown_variable_is_refused(ctx):
    with pytest.raises(DomainError, match="phone"):
        care.check_holiday(Holiday(name="中秋", greeting_subject="中秋快乐", greeting_body="{customer_name} {phone}"))
    with pytest.raises(DomainError):
        care.check_holiday(Holiday(name="中秋", greeting_body="{customer_name}"))


def test_reminders_page_and_sending_from_it(app, ctx, login):
    from app.core.column_types import utcnow
    from app.tickets.lifecycle import local_zone

    today = utcnow().astimezone(local_zone()).date()
    customer = factories.customer(
        name="寿星",
        birthday=today.replace(year=1990) if (today.month, today.day) != (2, 29) else datetime.date(1992, 2, 29),
    )
    client = login("Service")
    page = client.get("/care/").get_data(as_text=True)
    assert "寿星" in page and "今天" in page
    client.post("/care/send")
    assert db.session.query(OutboxMessage).filter_by(customer_id=customer.id).count() == 1
    assert login("Technician").get("/care/").status_code in (302, 403)


def test_the_care_jobs_run_once_from_the_command_line_and_again_harmlessly(app, ctx):
    from app.core.column_types import utcnow
    from app.tickets.lifecycle import local_zone

    today = utcnow().astimezone(local_zone()).date()
    birthday = today.replace(year=1990) if (today.month, today.day) != (2, 29) else datetime.date(1992, 2, 29)
    factories.customer(name="寿星", birthday=birthday)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["crm", "care"])
    assert first.exit_code == 0, first.output
    assert "'birthday': 1" in first.output
    second = runner.invoke(args=["crm", "care"])
    assert second.exit_code == 0 and "'birthday': 0" in second.output
    assert db.session.query(OutboxMessage).count() == 1
