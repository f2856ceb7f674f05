"""Manager reports for a period: service performance and fee collection.

Each table is one aggregate query (or a dashboard widget's); workbook() writes the tables to an
.xlsx with native Excel charts (XlsxWriter), so a report can be forwarded as it is.
"""

import io
from decimal import Decimal

from flask_babel import lazy_gettext as _
from sqlalchemy import case, func, select

from app.core.workbooks import new_workbook
from app.reporting.dashboards import _where, department_performance, in_building, tickets_per_day
from app.models import Bill, Building, Department, Ticket, TicketRating, Unit
from app.core.column_types import TICKET_TYPES
from app.billing.bills import aging_labels, arrears_by_building


class Table:
    """A titled table: headers, rows, and which columns a chart draws against the first column."""

    def __init__(self, key, title, headers, rows, chart=None, chart_columns=(), formats=None):
        self.key, self.title, self.headers, self.rows = key, title, headers, rows
        self.chart, self.chart_columns, self.formats = chart, tuple(chart_columns), formats or {}

    def chart_data(self):
        """What the page's chart draws: the first column as labels, the chart columns as series."""
        return {
            "chart": self.chart,
            "labels": [str(r[0]) for r in self.rows],
            "series": [
                {
                    "name": str(self.headers[c]),
                    "data": [_plain(r[c]) for r in self.rows],
                    "drill": [None] * len(self.rows),
                }
                for c in self.chart_columns
            ],
        }


def _plain(value):
    return float(value) if isinstance(value, Decimal) else value


def _pct(part, whole):
    return round(float(part) * 100 / float(whole), 1) if whole else None


def service_report(session, flt, ratings=True):
    """Tickets created and resolved, median resolution time, on-time rate and rating per
    department and per type, and the daily trend, for the period of ``flt``. Without ``ratings``
    (the reader may not see ratings' stars) the rating column stays empty."""
    low, high = flt.utc_range()
    created = case(((Ticket.created_at >= low) & (Ticket.created_at < high), 1), else_=0)
    resolved = case(((Ticket.resolved_at >= low) & (Ticket.resolved_at < high), 1), else_=0)
    in_period = ((Ticket.created_at >= low) & (Ticket.created_at < high)) | (
        (Ticket.resolved_at >= low) & (Ticket.resolved_at < high)
    )
    rated = case(((TicketRating.rated_at >= low) & (TicketRating.rated_at < high), TicketRating.stars))
    counts = session.execute(
        select(Department.name, func.sum(created), func.sum(resolved), func.avg(rated))
        .select_from(Ticket)
        .join(Department, Department.id == Ticket.department_id)
        .outerjoin(TicketRating, TicketRating.ticket_id == Ticket.id)
        .where(in_period, *_where(Ticket, flt, dates=False))
        .group_by(Department.name)
        .order_by(Department.name)
    ).all()
    speed = department_performance(session, flt)
    medians = dict(zip(speed.labels, speed.series[0]["data"]))
    on_time = dict(zip(speed.labels, speed.series[1]["data"]))
    departments = [
        (
            name,
            int(new or 0),
            int(done or 0),
            medians.get(name),
            on_time.get(name),
            round(float(stars), 2) if stars is not None and ratings else None,
        )
        for name, new, done, stars in counts
    ]
    by_type = session.execute(
        select(Ticket.type, func.sum(created), func.sum(resolved))
        .where(in_period, *_where(Ticket, flt, dates=False))
        .group_by(Ticket.type)
    ).all()
    by_type = {code: (int(new or 0), int(done or 0)) for code, new, done in by_type}
    types = [(TICKET_TYPES.label(code), *by_type[code]) for code in TICKET_TYPES if code in by_type]
    trend = tickets_per_day(session, flt)
    days = [(label, trend.series[0]["data"][i], trend.series[1]["data"][i]) for i, label in enumerate(trend.labels)]
    return [
        Table(
            "departments",
            _("By department"),
            [
                _("Department"),
                _("Created"),
                _("Resolved"),
                _("Median resolution time (hours)"),
                _("On-time rate (%)"),
                _("Average rating"),
            ],
            departments,
            "bar",
            (1, 2),
        ),
        Table("types", _("By type"), [_("Type"), _("Created"), _("Resolved")], types, "bar", (1, 2)),
        Table("days", _("Per day"), [_("Day"), _("New"), _("Resolved")], days, "line", (1, 2)),
    ]


def collection_report(session, flt):
    """Billed, collected, written off and outstanding per month and per building for the periods
    (months) of ``flt``, with the collection rate; and today's arrears by age per building."""

    outstanding = Bill.outstanding
    months = session.execute(
        select(
            Bill.period,
            func.sum(Bill.amount),
            func.sum(Bill.paid_amount),
            func.sum(Bill.written_off_amount),
            func.sum(outstanding),
        )
        .where(*_where(Bill, flt))
        .group_by(Bill.period)
        .order_by(Bill.period)
    ).all()
    low, high = flt.periods()
    buildings_query = (
        select(
            Building.name,
            func.sum(Bill.amount),
            func.sum(Bill.paid_amount),
            func.sum(Bill.written_off_amount),
            func.sum(outstanding),
        )
        .join(Unit, Unit.id == Bill.unit_id)
        .join(Building, Building.id == Unit.building_id)
        .where(Bill.period >= low, Bill.period <= high)
        .group_by(Building.name)
        .order_by(Building.name)
    )
    if flt.building_id:
        buildings_query = buildings_query.where(in_building(Bill, flt.building_id))
    buildings = session.execute(buildings_query).all()
    aging = arrears_by_building(session, flt.today, flt.building_id)

    def money_rows(rows):
        return [
            (name, billed, paid, written_off, left, _pct(paid, billed))
            for name, billed, paid, written_off, left in rows
        ]

    headers = [_("Billed"), _("Collected"), _("Written off"), _("Outstanding"), _("Collection rate (%)")]
    money = {1: "money", 2: "money", 3: "money", 4: "money"}
    aging_rows = [(row["name"], *row["buckets"]) for row in aging]
    bucket_names = aging_labels()
    return [
        Table("months", _("By month"), [_("Period"), *headers], money_rows(months), "bar", (1, 2), money),
        Table("buildings", _("By building"), [_("Building"), *headers], money_rows(buildings), "bar", (1, 2), money),
        Table(
            "aging",
            _("Arrears by age (today)"),
            [_("Building"), *bucket_names],
            aging_rows,
            "stacked",
            range(1, 1 + len(bucket_names)),
            {i: "money" for i in range(1, 5)},
        ),
    ]


def workbook(title, flt, tables):
    """The report as .xlsx bytes: one sheet per table, each with a native chart beside it."""
    output = io.BytesIO()
    book, formats = new_workbook(output, in_memory=True)
    bold, heading = formats["header"], formats["heading"]
    for table in tables:
        sheet = book.add_worksheet(str(table.title)[:31])
        sheet.write(0, 0, f"{title} {flt.start.isoformat()} – {flt.end.isoformat()}", heading)
        for col, header in enumerate(table.headers):
            sheet.write_string(2, col, str(header), bold)
            sheet.set_column(col, col, 14 if col else 18)
        for row_index, row in enumerate(table.rows, start=3):
            for col, value in enumerate(row):
                value = _plain(value)
                if value is None:
                    sheet.write_blank(row_index, col, None)
                elif isinstance(value, (int, float)):
                    sheet.write_number(row_index, col, value, formats.get(table.formats.get(col)))
                else:
                    sheet.write_string(row_index, col, str(value))
        if table.rows and table.chart:
            kind = {
                "bar": {"type": "column"},
                "line": {"type": "line"},
                "stacked": {"type": "column", "subtype": "stacked"},
            }[table.chart]
            chart = book.add_chart(kind)
            last = 2 + len(table.rows)
            for col in table.chart_columns:
                chart.add_series(
                    {
                        "name": [sheet.name, 2, col],
                        "categories": [sheet.name, 3, 0, last, 0],
                        "values": [sheet.name, 3, col, last, col],
                    }
                )
            chart.set_title({"name": str(table.title)})
            chart.set_size({"width": 640, "height": 320})
            sheet.insert_chart(2, len(table.headers) + 1, chart)
    book.close()
    return output.getvalue()
