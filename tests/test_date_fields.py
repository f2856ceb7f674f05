"""Dates and times typed the way the staff write them: one text box everywhere, read by the server."""

import datetime
import re
import zoneinfo

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import Form

from app.web.date_fields import (
    LocalDateField,
    LocalDateTimeField,
    TypedDateError,
    parse_typed_date,
    parse_typed_datetime,
)
from app.extensions import db
from app.models import Communication, Contract, Payment, Ticket
from tests import factories

UTC = datetime.timezone.utc
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


# ---- the parsers


@pytest.mark.parametrize(
    "text", ["2026-11-26", "2026/11/26", "2026.11.26", "2026年11月26日", " 2026-11-26 ", "2026 / 11 / 26"]
)
def test_a_typed_day_in_every_usual_spelling(text):
    assert parse_typed_date(text) == datetime.date(2026, 11, 26)


def test_a_day_with_one_digit_month_and_day():
    assert parse_typed_date("2026/1/5") == datetime.date(2026, 1, 5)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "26-11-2026",
        "11/26/2026",
        "2026-13-01",
        "2026-02-30",
        "2026-11",
        "2026-11-26 18:00",
        "20261126x",
        "2026-11-26; drop table",
    ],
)
def test_a_day_that_is_not_one_is_refused(text):
    with pytest.raises(TypedDateError):
        parse_typed_date(text)


@pytest.mark.parametrize(
    "text, local",
    [
        ("2026-12-01 18:00", (18, 0, 0)),
        ("2026-12-01 18:00:00", (18, 0, 0)),
        ("2026/12/01 18:00", (18, 0, 0)),
        ("2026-12-01T18:00", (18, 0, 0)),  # what <input type=datetime-local> and ISO tools send
        ("2026-12-01T18:00:30", (18, 0, 30)),
        ("2026/12/1 8:05", (8, 5, 0)),
        ("2026年12月1日 18:00", (18, 0, 0)),
        ("2026-12-01 18：00", (18, 0, 0)),  # a full-width colon from a Chinese input method
        ("2026-12-01", (0, 0, 0)),  # a day alone is its midnight
    ],
)
def test_a_typed_moment_keeps_its_time_of_day_in_the_firms_zone(text, local):
    value = parse_typed_datetime(text, SHANGHAI)
    assert value.utcoffset() == datetime.timedelta(0)  # stored as UTC, like every UTCDateTime column
    assert value.astimezone(SHANGHAI).replace(tzinfo=None) == datetime.datetime(2026, 12, 1, *local)


def test_the_zone_is_the_firms(app):
    with app.app_context():
        assert parse_typed_datetime("2026-12-01 18:00") == datetime.datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    new_york = zoneinfo.ZoneInfo("America/New_York")
    assert parse_typed_datetime("2026-12-01 18:00", new_york) == datetime.datetime(2026, 12, 1, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "2026-12-01 25:00",
        "2026-12-01 18:60",
        "2026-12-01 18",
        "18:00",
        "2026-02-30 10:00",
        "2026-12-01 18:00+08:00",
    ],
)
def test_a_moment_that_is_not_one_is_refused(text):
    with pytest.raises(TypedDateError):
        parse_typed_datetime(text, SHANGHAI)


# ---- the form fields


class DatesForm(Form):
    day = LocalDateField("day")
    at = LocalDateTimeField("at")


def test_fields_read_typed_text_and_show_it_back(app):
    with app.test_request_context():
        form = DatesForm(MultiDict({"day": "2026/11/26", "at": "2026-12-01T18:00"}))
        assert form.validate()
        assert form.day.data == datetime.date(2026, 11, 26)
        assert form.at.data == datetime.datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
        html = str(form.day) + str(form.at)
        assert 'type="text"' in html and 'data-crm-date="date"' in html and 'data-crm-date="datetime"' in html
        assert "appbuilder_date" not in html  # FAB's bootstrap-datepicker never attaches
        shown = DatesForm(
            data={"day": datetime.date(2026, 11, 26), "at": datetime.datetime(2026, 12, 1, 10, 0, tzinfo=UTC)}
        )
        assert 'value="2026-11-26"' in str(shown.day)
        assert 'value="2026-12-01 18:00:00"' in str(shown.at)  # local time, not the stored UTC


def test_fields_refuse_bad_text_with_a_chinese_message(app):
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        form = DatesForm(MultiDict({"day": "26/11/2026", "at": "明天下午"}))
        assert not form.validate()
        assert form.day.data is None and form.at.data is None
        assert "请按“年-月-日”填写日期，例如 2026-11-26。" in form.day.errors
        assert "请填写日期和时间，例如 2026-12-01 18:00。" in form.at.errors
        assert 'value="明天下午"' in str(form.at)  # what was typed stays in the box to be corrected


# ---- the pages


def _contract_form(customer, **changes):
    form = {
        "number": "HT-2026-101",
        "title": "商铺租赁",
        "kind": "lease",
        "customer": str(customer.id),
        "start_date": "2026-11-26",
        "end_date": "2027/11/25",
        "amount": "5000",
        "payment_cycle": "monthly",
        "remind_days": "30",
        "rent_remind_days": "7",
    }
    form.update(changes)
    return form


def test_a_contract_saves_with_typed_dates(login, ctx):
    customer = factories.customer()
    response = login("Service").post("/contractview/add", data=_contract_form(customer))
    assert response.status_code == 302
    contract = db.session.query(Contract).one()
    assert (contract.start_date, contract.end_date) == (datetime.date(2026, 11, 26), datetime.date(2027, 11, 25))


def test_a_contract_with_a_bad_date_is_refused_with_the_reason(login, ctx):
    customer = factories.customer()
    page = (
        login("Service")
        .post("/contractview/add", data=_contract_form(customer, start_date="2026-11-31"), follow_redirects=True)
        .get_data(as_text=True)
    )
    assert "请按“年-月-日”填写日期，例如 2026-11-26。" in page
    assert 'value="2026-11-31"' in page
    assert db.session.query(Contract).count() == 0


def test_the_contract_form_uses_the_typed_date_box(admin_client):
    page = admin_client.get("/contractview/add").get_data(as_text=True)
    field = re.search(r'<input[^>]*name="start_date"[^>]*>', page).group(0)
    assert 'data-crm-date="date"' in field and 'type="text"' in field and "appbuilder_date" not in page
    assert "/static/vendor/air-datepicker/air-datepicker.js" in page and "js/crm-dates.js" in page


def test_the_calendar_is_served_by_the_app(admin_client):
    for name in ("air-datepicker.js", "air-datepicker.css"):
        assert admin_client.get(f"/static/vendor/air-datepicker/{name}").status_code == 200
    assert admin_client.get("/static/js/crm-dates.js").status_code == 200


@pytest.mark.parametrize("typed", ["2026-12-01 18:00:00", "2026-12-01 18:00", "2026/12/01 18:00", "2026-12-01T18:00"])
def test_a_ticket_deadline_keeps_its_time(admin_client, ctx, typed):
    response = admin_client.post(
        "/ticketview/add",
        data={"title": "电梯异响", "type": "repair", "priority": "high", "channel": "phone", "deadline": typed},
    )
    assert response.status_code == 302
    deadline = db.session.query(Ticket).one().deadline
    assert deadline == datetime.datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai


def test_a_ticket_with_a_bad_deadline_is_refused(admin_client, ctx):
    page = admin_client.post(
        "/ticketview/add",
        data={
            "title": "电梯异响",
            "type": "repair",
            "priority": "high",
            "channel": "phone",
            "deadline": "2026-12-01 18:99",
        },
    )
    assert "请填写日期和时间，例如 2026-12-01 18:00。" in page.get_data(as_text=True)
    assert db.session.query(Ticket).count() == 0


@pytest.mark.parametrize("view, field", [("paymentview", "paid_at"), ("communicationview", "at")])
def test_payment_and_contact_times_start_at_now_not_midnight(admin_client, now, view, field):
    page = admin_client.get(f"/{view}/add").get_data(as_text=True)
    box = re.search(rf'<input[^>]*name="{field}"[^>]*>', page).group(0)
    shown = re.search(r'value="([^"]+)"', box).group(1)
    local = now.astimezone(SHANGHAI)
    moment = datetime.datetime.strptime(shown, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    assert datetime.timedelta(0) <= moment - local.replace(microsecond=0) < datetime.timedelta(minutes=1)
    assert 'data-crm-date="datetime"' in box


def test_a_payment_and_a_communication_keep_the_typed_time(admin_client, ctx):
    bill = factories.bill()
    admin_client.post(
        "/paymentview/add", data={"bill": str(bill.id), "amount": "30", "method": "cash", "paid_at": "2026/11/20 15:42"}
    )
    assert db.session.query(Payment).one().paid_at == datetime.datetime(2026, 11, 20, 7, 42, tzinfo=UTC)
    customer = factories.customer()
    admin_client.post(
        "/communicationview/add",
        data={"customer": str(customer.id), "at": "2026-11-20T09:15", "channel": "phone", "summary": "电话回访"},
    )
    assert db.session.query(Communication).one().at == datetime.datetime(2026, 11, 20, 1, 15, tzinfo=UTC)


def test_list_filters_use_the_same_boxes(admin_client):
    page = admin_client.get("/ticketview/list/").get_data(as_text=True)
    assert 'data-crm-date=\\"datetime\\"' in page or 'data-crm-date="datetime"' in page
    page = admin_client.get("/contractview/list/").get_data(as_text=True)
    assert 'data-crm-date=\\"date\\"' in page or 'data-crm-date="date"' in page


def test_a_date_filter_takes_a_typed_day(admin_client, ctx):
    customer = factories.customer()
    for number, start in (("HT-1", "2026-11-26"), ("HT-2", "2026-10-01")):
        admin_client.post("/contractview/add", data=_contract_form(customer, number=number, start_date=start))
    assert db.session.query(Contract).count() == 2
    for typed in ("2026/11/01", "2026-11-01", "2026年11月1日"):
        page = admin_client.get(f"/contractview/list/?_flt_1_start_date={typed}").get_data(as_text=True)
        assert "HT-1" in page and "HT-2" not in page, typed


def test_a_datetime_filter_takes_a_typed_local_time(admin_client, ctx):
    early = factories.ticket(title="早的", deadline=datetime.datetime(2026, 12, 1, 9, 0, tzinfo=UTC))  # 17:00 local
    late = factories.ticket(title="晚的", deadline=datetime.datetime(2026, 12, 1, 11, 0, tzinfo=UTC))  # 19:00 local
    for typed in ("2026-12-01T18:00", "2026/12/01 18:00", "2026年12月1日 18:00"):
        page = admin_client.get(f"/ticketview/list/?_flt_1_deadline={typed}").get_data(as_text=True)
        assert late.number in page and early.number not in page, typed


# ---- the pages with their own date boxes: dashboard and report filters, staff figures, broadcasts


def test_dashboard_filters_take_typed_days(admin_client):
    from app.reporting.dashboards import parse_filter

    flt = parse_filter({"start": "2026/11/01", "end": "2026年11月20日"}, "Asia/Shanghai", datetime.date(2026, 11, 23))
    assert (flt.start, flt.end) == (datetime.date(2026, 11, 1), datetime.date(2026, 11, 20))
    page = admin_client.get("/reports/service/?start=2026/11/01&end=2026/11/20").get_data(as_text=True)
    start = re.search(r'<input[^>]*name="start"[^>]*>', page).group(0)
    assert 'value="2026-11-01"' in start and 'data-crm-date="date"' in start and 'type="date"' not in start


def test_staff_figures_take_typed_days(login):
    page = login("Manager").get("/performance/?start=2026/11/01&end=2026/11/20").get_data(as_text=True)
    start = re.search(r'<input[^>]*name="start"[^>]*>', page).group(0)
    assert 'value="2026-11-01"' in start and 'data-crm-date="date"' in start


def test_a_broadcast_is_scheduled_at_a_typed_local_time(login, ctx):
    from app.models import Broadcast

    factories.customer(name="郑秀", email="zx@example.com")
    desk = login("Service")
    desk.post("/broadcastview/add", data={"title": "停水通知", "subject": "停水通知", "body": "周六停水"})
    broadcast = db.session.query(Broadcast).one()
    page = desk.get(f"/broadcastview/report/{broadcast.id}").get_data(as_text=True)
    assert re.search(r'<input[^>]*data-crm-date="datetime"[^>]*id="broadcast-at"', page)
    refused = desk.post(f"/broadcastview/schedule/{broadcast.id}", data={"at": "2099-01-01 9点"}, follow_redirects=True)
    assert "请填写日期和时间，例如 2026-12-01 18:00。" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Broadcast, broadcast.id).scheduled_at is None
    desk.post(f"/broadcastview/schedule/{broadcast.id}", data={"at": "2099/01/01 09:00"})
    db.session.expire_all()
    assert db.session.get(Broadcast, broadcast.id).scheduled_at == datetime.datetime(2099, 1, 1, 1, 0, tzinfo=UTC)
