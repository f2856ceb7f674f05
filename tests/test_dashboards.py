"""Dashboard widgets: every built-in widget's numbers against a hand-computed fixture, the drill-down
links (each opens a list showing exactly the counted records), the widget builder's queries and
checks, field permissions and row scoping on widget data, and one SQL statement per widget."""

import datetime
import re
from decimal import Decimal

import pytest
from sqlalchemy import update

from app.reporting.dashboards import (
    BUILTIN,
    DashboardFilter,
    WidgetRefused,
    builtin_data,
    check_widget,
    parse_filter,
    widget_data,
    widget_query,
)
from flask_babel import gettext as _

from app.core.errors import DomainError
from app.extensions import db
from app.policy.field_permissions import FieldAccess
from app.core.column_types import BILL_STATUSES, TICKET_STATUSES
from app.models import Bill, DashboardWidget, FieldPermission, StaffProfile, Ticket, TicketRating
from tests import factories

UTC = datetime.timezone.utc


def at(day, hour, month=11):
    return datetime.datetime(2026, month, day, hour, 0, tzinfo=UTC)


FLT = DashboardFilter(
    datetime.date(2026, 10, 25), datetime.date(2026, 11, 10), zone="Asia/Shanghai", today=datetime.date(2026, 11, 10)
)


def everyone(resource):
    return FieldAccess({}, resource)


@pytest.fixture
def data(ctx):
    """Two buildings, two departments, six tickets, three ratings, four bills, five customers.

    Times are UTC; local time is UTC+8, so t2 (created 20:00 UTC on 2 Nov) counts on 3 Nov and
    t3 (resolved 19:00 UTC on 8 Nov) on 9 Nov."""
    a = factories.building(name="A座")
    b = factories.building(name="B座")
    ua = factories.unit(a, number="101", layout="三室两厅")
    ub = factories.unit(b, number="201", layout="两室一厅")
    d1 = factories.department(name="工程部")
    d2 = factories.department(name="客服部")
    vip, old = factories.tag(name="VIP"), factories.tag(name="老人")
    c1 = factories.customer(name="李一", type="owner", units=[ua], tags=[vip], birthday=datetime.date(1990, 5, 1))
    c2 = factories.customer(name="王二", type="tenant", units=[ub], tags=[vip, old], birthday=datetime.date(1950, 1, 1))
    factories.customer(name="赵三", type="owner", units=[ub])
    factories.customer(name="钱四", type="commercial", birthday=datetime.date(2000, 11, 10))  # 26 today
    factories.customer(name="孙五", type="commercial", birthday=datetime.date(1981, 11, 10))  # 45 today

    def ticket(title, kind, status, dept, unit, created, resolved=None, due=None):
        t = factories.ticket(title=title, type=kind, department=dept, unit=unit)
        db.session.execute(
            update(Ticket)
            .where(Ticket.id == t.id)
            .values(
                status=status,
                created_at=created,
                resolved_at=resolved,
                resolution_due=due,
                resolution="ok" if resolved else None,
            )
        )
        return t

    t = {
        "t1": ticket("一号", "repair", "new", d1, ua, at(2, 1)),
        "t2": ticket("二号", "complaint", "resolved", d1, ua, at(2, 20), at(3, 22), at(4, 0)),  # 26 h, on time
        "t3": ticket("三号", "complaint", "closed", d2, ub, at(8, 15), at(8, 19), at(8, 17)),  # 4 h, late
        "t4": ticket("四号", "repair", "resolved", d1, ub, at(6, 0), at(6, 10), at(7, 0)),  # 10 h, on time
        "t5": ticket("五号", "suggestion", "new", d2, ua, at(20, 0, month=10)),  # before the period
        "t6": ticket("六号", "complaint", "assigned", d1, ub, at(9, 3)),
    }
    db.session.add_all(
        [
            TicketRating(ticket_id=t["t2"].id, stars=5, source="phone", rated_at=at(4, 2)),
            TicketRating(ticket_id=t["t3"].id, stars=2, source="phone", rated_at=at(9, 10)),
            TicketRating(ticket_id=t["t4"].id, stars=4, source="phone", rated_at=at(31, 18, month=10)),  # 1 Nov local
            TicketRating(ticket_id=t["t5"].id, stars=1, source="phone", rated_at=at(15, 0, month=10)),  # before
        ]
    )
    db.session.commit()
    bills = {
        "b1": factories.bill(c1, ua, period="2026-10", amount=Decimal("300"), due_date=datetime.date(2026, 10, 20)),
        "b2": factories.bill(c2, ub, period="2026-10", amount=Decimal("200"), due_date=datetime.date(2026, 10, 20)),
        "b3": factories.bill(c1, ua, period="2026-11", amount=Decimal("500"), due_date=datetime.date(2026, 11, 15)),
        "b4": factories.bill(c1, ua, period="2026-09", amount=Decimal("100"), due_date=datetime.date(2026, 8, 1)),
    }
    for key, paid, status in (("b1", "300", "paid"), ("b2", "50", "partial"), ("b3", "100", "partial")):
        db.session.execute(
            update(Bill).where(Bill.id == bills[key].id).values(paid_amount=Decimal(paid), status=status)
        )
    db.session.commit()
    return dict(a=a, b=b, d1=d1, d2=d2, vip=vip, old=old, **t, **bills)


def points(result, series=0):
    return dict(zip(result.labels, result.series[series]["data"]))


def run(key, flt=FLT):
    return builtin_data(db.session, key, flt, everyone)


def test_ticket_widgets_match_the_fixture(data):
    label = TICKET_STATUSES.label
    assert points(run("tickets_by_status")) == {
        label("new"): 1,
        label("assigned"): 1,
        label("resolved"): 2,
        label("closed"): 1,
    }
    statuses = run("tickets_by_status")
    assert statuses.series[0]["data"] == [1, 1, 2, 1]  # in the lifecycle's order: new, assigned, resolved, closed
    assert sorted(run("tickets_by_type").series[0]["data"]) == [2, 3]  # repair t1 t4; complaint t2 t3 t6
    per_day = run("tickets_per_day")
    new, done = points(per_day, 0), points(per_day, 1)
    assert len(per_day.labels) == 17 and per_day.labels[0] == "2026-10-25"
    assert {d: n for d, n in new.items() if n} == {
        "2026-11-02": 1,
        "2026-11-03": 1,
        "2026-11-06": 1,
        "2026-11-08": 1,
        "2026-11-09": 1,
    }
    assert {d: n for d, n in done.items() if n} == {"2026-11-04": 1, "2026-11-06": 1, "2026-11-09": 1}
    speed = run("department_performance")
    assert points(speed, 0) == {"工程部": 18.0, "客服部": 4.0}  # median of 26 h and 10 h; 4 h
    assert points(speed, 1) == {"工程部": 100.0, "客服部": 0.0}
    assert points(run("complaints_by_building")) == {"B座": 2, "A座": 1}
    assert run("complaints_by_building").labels == ["B座", "A座"]  # most first
    trend = run("satisfaction_trend")
    assert points(trend) == {"2026-11": round((5 + 2 + 4) / 3, 2)}


def test_billing_and_customer_widgets_match_the_fixture(data):
    assert points(run("collection_rate")) == {"2026-10": 70.0, "2026-11": 20.0}
    arrears = run("arrears_by_building")
    assert arrears.labels == ["B座", "A座"]  # by outstanding, largest first
    assert [s["data"] for s in arrears.series] == [[150.0, 0.0], [0.0, 0.0], [0.0, 100.0], [0.0, 0.0]]
    types = run("customers_by_type")
    assert types.series[0]["data"] == [2, 1, 2]  # owner, tenant, commercial
    assert points(run("customers_by_tag")) == {"VIP": 2, "老人": 1}
    ages = run("customers_by_age")
    assert ages.labels[:4] == ["<30", "30–44", "45–59", "60+"]
    assert ages.series[0]["data"] == [1, 1, 1, 1, 1]  # and one without a birthday
    assert points(run("customers_by_layout")) == {"三室两厅": 1, "两室一厅": 2}


def test_building_and_department_filters(data):
    in_b = DashboardFilter(FLT.start, FLT.end, building_id=data["b"].id, zone=FLT.zone, today=FLT.today)
    assert run("tickets_by_status", in_b).series[0]["data"] == [1, 1, 1]  # t6 assigned, t4 resolved, t3 closed
    assert points(run("collection_rate", in_b)) == {"2026-10": 25.0}
    assert run("arrears_by_building", in_b).labels == ["B座"]
    assert points(run("customers_by_tag", in_b)) == {"VIP": 1, "老人": 1}
    d2 = DashboardFilter(FLT.start, FLT.end, department_id=data["d2"].id, zone=FLT.zone, today=FLT.today)
    assert sum(run("tickets_by_status", d2).series[0]["data"]) == 1
    assert points(run("satisfaction_trend", d2)) == {"2026-11": 2.0}


def test_each_widget_is_one_statement(data, count_queries):
    for key in BUILTIN:
        with count_queries() as counter:
            run(key)
        assert counter.count == 1, (key, counter.statements)


def test_birthdays_on_29_february_and_age_edges():
    from app.reporting.dashboards import age_bands

    bands = age_bands(datetime.date(2028, 2, 29))
    assert bands[0] == ("<30", datetime.date(1998, 2, 28), None)


def test_bad_dashboard_filters_are_refused_with_a_message():
    today = datetime.date(2026, 11, 10)
    for args in (
        {"start": "2026-13-01"},
        {"start": "2026-11-10", "end": "2026-11-01"},
        {"building": "x"},
        {"department": "99999999999999"},
    ):
        with pytest.raises(DomainError):
            parse_filter(args, "Asia/Shanghai", today)
    flt = parse_filter({}, "Asia/Shanghai", today)
    assert (flt.start, flt.end) == (datetime.date(2026, 10, 12), today)


def _record_count(page):
    found = re.search(r"(?:Record Count|记录数)[^0-9]*(\d+)", page)
    return int(found.group(1)) if found else 0


def test_every_drill_down_link_lists_exactly_the_counted_records(data, login):
    client = login("Manager")
    query = f"start={FLT.start}&end={FLT.end}"
    checked = 0
    for key in BUILTIN:
        response = client.get(f"/dashboard/data/{key}?{query}")
        assert response.status_code == 200, key
        body = response.get_json()
        for series in body["series"]:
            for label, value, link in zip(body["labels"], series["data"], series["links"]):
                if key in (
                    "department_performance",
                    "satisfaction_trend",
                    "collection_rate",
                    "arrears_by_building",
                    "customers_by_layout",
                ):
                    continue  # rates, times and sums: their links are checked below
                if label == "未知":  # customers without a birthday: no list filter selects them
                    continue
                assert link, (key, series["name"], label)
                page = client.get(link)
                assert page.status_code == 200, link
                assert _record_count(page.get_data(as_text=True)) == value, (key, link)
                checked += 1
    assert checked >= 15
    # rates and times open the records they are computed from
    speed = client.get(f"/dashboard/data/department_performance?{query}").get_json()
    link = speed["series"][0]["links"][speed["labels"].index("工程部")]
    assert _record_count(client.get(link).get_data(as_text=True)) == 2  # t2, t4
    rate = client.get(f"/dashboard/data/collection_rate?{query}").get_json()
    link = rate["series"][0]["links"][rate["labels"].index("2026-10")]
    assert _record_count(client.get(link).get_data(as_text=True)) == 2  # b1, b2
    trend = client.get(f"/dashboard/data/satisfaction_trend?{query}").get_json()
    assert _record_count(client.get(trend["series"][0]["links"][0]).get_data(as_text=True)) == 3
    layout = client.get(f"/dashboard/data/customers_by_layout?{query}").get_json()
    link = layout["series"][0]["links"][layout["labels"].index("两室一厅")]
    assert _record_count(client.get(link).get_data(as_text=True)) == 1  # the unit 201
    arrears = client.get(f"/dashboard/data/arrears_by_building?{query}").get_json()
    assert arrears["series"][0]["links"][0].startswith("/arrears/?building=")


def test_drill_down_carries_the_building_filter(data, login):
    client = login("Manager")
    response = client.get(f"/dashboard/data/complaints_by_building?start={FLT.start}&end={FLT.end}").get_json()
    link = response["series"][0]["links"][0]
    assert f"building={data['b'].id}" in link and "_flt_" in link
    page = client.get(link).get_data(as_text=True)
    assert _record_count(page) == 2 and "三号" in page and "六号" in page and "二号" not in page
    assert "crm-building-filter" in page and "B座" in page


def test_supervisors_see_their_departments_numbers_only(data, login, user_id):
    db.session.add(StaffProfile(user_id=user_id("Supervisor"), department_id=data["d2"].id, max_open_tickets=0))
    db.session.commit()
    client = login("Supervisor")
    body = client.get(f"/dashboard/data/tickets_by_status?start={FLT.start}&end={FLT.end}").get_json()
    assert sum(body["series"][0]["data"]) == 1  # t3 only
    days = client.get(f"/dashboard/data/tickets_per_day?start={FLT.start}&end={FLT.end}").get_json()
    assert sum(days["series"][0]["data"]) == 1 and sum(days["series"][1]["data"]) == 1


def test_technicians_and_service_staff_have_no_dashboard(data, login):
    for role in ("Technician", "Service"):
        client = login(role)
        assert client.get("/dashboard/data/tickets_by_status").status_code in (401, 403)
        assert client.get("/dashboard/").status_code in (302, 403)


def test_managers_land_on_the_dashboard(data, login):
    response = login("Manager").get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard/")
    page = login("Manager").get("/dashboard/").get_data(as_text=True)
    assert page.count('class="panel panel-default crm-widget"') == len(BUILTIN)
    assert "/static/vendor/echarts/echarts.min.js" in page


def test_echarts_is_served_by_the_app(app):
    response = app.test_client().get("/static/vendor/echarts/echarts.min.js")
    assert response.status_code == 200 and len(response.data) > 500_000
    assert b"echarts" in response.data[:2000]


def test_hidden_fields_refuse_the_widget(data, login, user_id):
    from flask import current_app

    role = current_app.appbuilder.sm.find_role("Manager")
    db.session.add(FieldPermission(role_id=role.id, resource="Customer", field="birthday", level="masked"))
    db.session.commit()
    client = login("Manager")
    response = client.get("/dashboard/data/customers_by_age")
    assert response.status_code == 403 and "birthday" in response.get_json()["error"]
    assert client.get("/dashboard/data/customers_by_type").status_code == 200


# ---------------------------------------------------------------- the widget builder


def widget(**kw):
    defaults = dict(
        name="测试组件",
        source="Ticket",
        group_by="status",
        bucket="none",
        measure="count",
        chart="bar",
        width="half",
        position=1,
        active=True,
    )
    defaults.update(kw)
    return DashboardWidget(**defaults)


def test_builder_groups_by_a_date_bucket(data):
    weekly = widget(group_by="created_at", bucket="week", chart="line")
    sql = str(widget_query(weekly, FLT, "sqlite").compile(compile_kwargs={"literal_binds": True}))
    assert "GROUP BY" in sql and "weekday 0" in sql
    result = widget_data(db.session, weekly, FLT, everyone)
    assert points(result) == {"2026-11-02": 4, "2026-11-09": 1}  # t3 on Sunday 8 Nov local, t6 on Monday 9 Nov
    daily = widget_data(db.session, widget(group_by="resolved_at", bucket="day", chart="line"), FLT, everyone)
    assert points(daily) == {
        str(_("Not set")): 2,
        "2026-11-04": 1,
        "2026-11-06": 1,
        "2026-11-09": 1,
    }  # t1, t6 unresolved
    monthly = widget_data(db.session, widget(source="Customer", group_by="birthday", bucket="month"), FLT, everyone)
    assert points(monthly)["1990-05"] == 1


def test_builder_measures_relations_and_fixed_filters(data):
    sums = widget_data(
        db.session, widget(source="Bill", group_by="status", measure="sum", measure_field="amount"), FLT, everyone
    )
    assert points(sums) == {BILL_STATUSES.label("paid"): 300.0, BILL_STATUSES.label("partial"): 700.0}
    complaints = widget_data(db.session, widget(group_by="department", filters="type = complaint"), FLT, everyone)
    assert points(complaints) == {"工程部": 2, "客服部": 1}
    several = widget_data(
        db.session, widget(group_by="type", filters="status in new, assigned\ntype != suggestion"), FLT, everyone
    )
    assert sorted(several.series[0]["data"]) == [1, 1]
    card = widget_data(
        db.session, widget(source="Customer", group_by=None, chart="number", filters="type = owner"), FLT, everyone
    )
    assert card.chart == "number" and card.series[0]["data"] == [2]


def test_builder_refuses_what_cannot_work():
    assert "group_by" in check_widget(widget(group_by="no_such_field"))
    assert "group_by" in check_widget(widget(group_by="description"))  # free text
    assert "bucket" in check_widget(widget(group_by="status", bucket="month"))
    assert "bucket" in check_widget(widget(group_by="created_at", bucket="none"))
    assert "measure_field" in check_widget(widget(measure="sum", measure_field="title"))
    assert "filters" in check_widget(widget(filters="status = nonsense"))
    assert "filters" in check_widget(widget(filters="just words"))
    assert "filters" in check_widget(widget(filters="escalation_level >= many"))
    assert "group_by" in check_widget(widget(group_by=None, chart="bar"))
    assert check_widget(widget(group_by="created_at", bucket="month", filters="priority = high")) == {}


def test_builder_refuses_a_permission_hidden_group_by(data):
    hidden_type = lambda resource: FieldAccess({"type": "hidden"} if resource == "Ticket" else {}, resource)  # noqa
    with pytest.raises(WidgetRefused):
        widget_data(db.session, widget(group_by="type"), FLT, hidden_type)
    with pytest.raises(WidgetRefused):  # nor may it filter by the hidden field
        widget_data(db.session, widget(group_by="status", filters="type = complaint"), FLT, hidden_type)
    assert widget_data(db.session, widget(group_by="status"), FLT, hidden_type).series[0]["data"]


def test_builder_pages_and_roles(data, admin_client, login):
    from flask import current_app

    response = admin_client.post(
        "/dashboardwidgetview/add",
        data={
            "name": "每周投诉",
            "source": "Ticket",
            "group_by": "created_at",
            "bucket": "week",
            "measure": "count",
            "measure_field": "",
            "filters": "type = complaint",
            "chart": "line",
            "width": "half",
            "position": "5",
            "active": "y",
            "roles": [current_app.appbuilder.sm.find_role("Manager").id],
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    saved = db.session.query(DashboardWidget).filter_by(name="每周投诉").one()
    bad = admin_client.post(
        "/dashboardwidgetview/add",
        data={
            "name": "错误组件",
            "source": "Ticket",
            "group_by": "status",
            "bucket": "month",
            "measure": "count",
            "chart": "bar",
            "width": "half",
            "position": "1",
            "active": "y",
        },
        follow_redirects=True,
    )
    assert bad.status_code == 200 and db.session.query(DashboardWidget).filter_by(name="错误组件").count() == 0
    manager = login("Manager")
    assert "每周投诉" in manager.get("/dashboard/").get_data(as_text=True)
    body = manager.get(f"/dashboard/widget/{saved.id}?start={FLT.start}&end={FLT.end}").get_json()
    assert dict(zip(body["labels"], body["series"][0]["data"])) == {"2026-11-02": 2, "2026-11-09": 1}
    page = manager.get(body["series"][0]["links"][0])
    assert _record_count(page.get_data(as_text=True)) == 2  # t2 and t3, complaints of that week
    supervisor = login("Supervisor")
    assert supervisor.get(f"/dashboard/widget/{saved.id}").status_code == 404  # not for this role
    assert login("Manager").get("/dashboardwidgetview/list/").status_code in (302, 403)  # admins define widgets


# ---------------------------------------------------------------- reports


def test_service_and_collection_reports(data, login):
    from app.reporting.reports import collection_report, service_report

    departments, types, days = service_report(db.session, FLT)
    assert ("工程部", 4, 2, 18.0, 100.0, 4.5) in departments.rows  # t1 t2 t4 t6 created; t2 t4 resolved
    assert ("客服部", 1, 1, 4.0, 0.0, 2.0) in departments.rows
    assert sum(r[1] for r in types.rows) == 5 and len(days.rows) == 17
    months, buildings, aging = collection_report(db.session, FLT)
    assert [r[0] for r in months.rows] == ["2026-10", "2026-11"]
    assert months.rows[0][1:] == (Decimal("500.00"), Decimal("350.00"), Decimal("0.00"), Decimal("150.00"), 70.0)
    client = login("Manager")
    page = client.get(f"/reports/service/?start={FLT.start}&end={FLT.end}").get_data(as_text=True)
    assert "工程部" in page and "data-chart" in page
    response = client.get(f"/reports/collection.xlsx?start={FLT.start}&end={FLT.end}")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    import io
    import zipfile

    archive = zipfile.ZipFile(io.BytesIO(response.data))
    charts = [n for n in archive.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) == 3  # a native Excel chart per table
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[0]
    assert sheet.cell(4, 1).value == "2026-10" and sheet.cell(4, 2).value == 500
    assert login("Supervisor").get("/reports/service.xlsx").status_code in (302, 403)  # managers export


def test_date_time_filters_typed_without_a_zone_are_local_time(data, admin_client):
    """Regression: FAB's search form sends '2026-11-08 23:00:00' without a zone, which was a 500."""
    # t3 was created at 15:00 UTC on 8 Nov, 23:00 in Shanghai
    page = admin_client.get(
        "/ticketview/list/?_flt_1_created_at=2026-11-08 22:59:00&_flt_2_created_at=2026-11-08 23:01:00"
    )
    assert page.status_code == 200
    assert _record_count(page.get_data(as_text=True)) == 1 and "三号" in page.get_data(as_text=True)
    api = admin_client.get("/api/v1/ticket/?q=(filters:!((col:created_at,opr:gt,value:'2026-11-09 10:00:00')))")
    assert api.status_code == 200 and [r["title"] for r in api.get_json()["result"]] == ["六号"]
    assert admin_client.get("/ticketview/list/?_flt_1_created_at=not-a-date").status_code == 200
    # a REST filter takes its column's own filter, not whichever FAB created last for that operator
    numbers = admin_client.get("/api/v1/ticket/?q=(filters:!((col:escalation_level,opr:gt,value:0)))")
    assert numbers.status_code == 200 and numbers.get_json()["count"] == 0
    again = admin_client.get("/api/v1/ticket/?q=(filters:!((col:created_at,opr:lt,value:'2026-11-01 00:00:00')))")
    assert again.status_code == 200 and [r["title"] for r in again.get_json()["result"]] == ["五号"]
