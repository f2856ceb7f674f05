"""Dashboard numbers: every widget is one aggregate SQL query (GROUP BY in the database).

Built-in widgets are functions of (session, DashboardFilter); widgets admins define in the UI
(DashboardWidget rows) become queries through widget_query(). Both return WidgetData, whose
points carry a drill-down: the list (model) and the conditions that select the point's records.
Row scoping applies by itself (app.policy.scoping limits every ORM select); field permissions are
checked here, against the fields a widget groups, measures or filters by.
"""

import datetime
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import lazy_gettext as _
from sqlalchemy import Date, DateTime, Integer, Numeric, String, and_, case, func, literal, select, union_all
from sqlalchemy import Boolean as SABoolean
from sqlalchemy.orm import RelationshipDirection

from app.core.clock import local_midnight, utc_offset
from app.core.typed_dates import TypedDateError, parse_typed_date

from app.core.errors import DomainError
from app.models import (
    Bill,
    Building,
    Communication,
    Customer,
    CustomerUnit,
    Department,
    Payment,
    Tag,
    Ticket,
    TicketRating,
    Unit,
    customer_tag,
)
from app.core.column_types import WIDGET_SOURCES
from app.property.units import in_building  # noqa: F401  (app.reporting.reports reads it from here)
from app.billing.bills import aging_labels, arrears_by_building as by_building
from app.web.interface import display_column
from app.models import DashboardWidget

SOURCES = {
    "Ticket": Ticket,
    "Customer": Customer,
    "Unit": Unit,
    "Bill": Bill,
    "Payment": Payment,
    "Communication": Communication,
    "TicketRating": TicketRating,
}
# the date each source's records are counted by when the dashboard's date range applies
SOURCE_DATES = {
    "Ticket": "created_at",
    "Customer": None,
    "Unit": None,
    "Bill": "period",
    "Payment": "paid_at",
    "Communication": "at",
    "TicketRating": "rated_at",
}
MAX_GROUPS = 50  # a bar or pie with more slices than this is unreadable; the largest are kept
AGE_BANDS = ((None, 30), (30, 45), (45, 60), (60, None))  # years, [low, high)


class WidgetRefused(DomainError):
    """A widget this user may not see (a field it uses is hidden or masked for them)."""


# ---------------------------------------------------------------- filters shared by all widgets


@dataclass
class DashboardFilter:
    start: datetime.date  # local dates, both ends included
    end: datetime.date
    building_id: int = None
    department_id: int = None
    zone: str = "Asia/Shanghai"
    today: datetime.date = None

    def utc_range(self):
        """[start 00:00, end+1 00:00) local time, as UTC datetimes for comparing stored times."""
        tz = zoneinfo.ZoneInfo(self.zone)
        low, high = local_midnight(self.start, tz), local_midnight(self.end + datetime.timedelta(days=1), tz)
        return low.astimezone(datetime.timezone.utc), high.astimezone(datetime.timezone.utc)

    def periods(self):
        return self.start.strftime("%Y-%m"), self.end.strftime("%Y-%m")


def parse_filter(args, zone, today):
    """The dashboard's filters from a request's arguments; bad values raise DomainError."""

    def day(name, default):
        text = (args.get(name) or "").strip()
        if not text:
            return default
        try:
            return parse_typed_date(text)
        except TypedDateError:
            raise DomainError(_("Dates must look like 2026-01-31.")) from None

    def number(name):
        text = (args.get(name) or "").strip()
        if not text:
            return None
        if not text.isdigit() or len(text) > 9:
            raise DomainError(_("Unknown building or department."))
        return int(text)

    end = day("end", today)
    start = day("start", end - datetime.timedelta(days=29))
    if start > end:
        raise DomainError(_("The start date must not be after the end date."))
    if (end - start).days > 3660:
        raise DomainError(_("Choose a period of at most ten years."))
    return DashboardFilter(start, end, number("building"), number("department"), zone, today)


# ---------------------------------------------------------------- SQL pieces that differ by database


def local_bucket(dialect, column, bucket, zone):
    """The local day ('2026-01-31'), week (its Monday) or month ('2026-01') of a stored value."""
    is_datetime = _kind(column.type) == "datetime"
    if dialect == "postgresql":
        value = func.timezone(zone, column) if is_datetime else column
        if bucket == "week":
            return func.to_char(func.date_trunc("week", value), "YYYY-MM-DD")
        return func.to_char(value, "YYYY-MM-DD" if bucket == "day" else "YYYY-MM")
    # SQLite keeps naive UTC text: shift by the zone's offset (zones without summer time, as China's)
    shift = []
    if is_datetime:
        offset = utc_offset(zoneinfo.ZoneInfo(zone))
        shift = [f"{int(offset.total_seconds() // 60):+d} minutes"]
    if bucket == "week":
        return func.date(column, *shift, "weekday 0", "-6 days")
    return func.strftime("%Y-%m-%d" if bucket == "day" else "%Y-%m", column, *shift)


def minutes_between(dialect, later, earlier):
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier) / 60
    return (func.julianday(later) - func.julianday(earlier)) * 1440.0


def bucket_range(label, bucket, zone, is_datetime=True):
    """The [low, high) of one bucket label, as aware datetimes (or dates), for drill-down links."""
    if bucket == "month":
        low = datetime.date.fromisoformat(label + "-01")
        high = (low + datetime.timedelta(days=32)).replace(day=1)
    else:
        low = datetime.date.fromisoformat(label)
        high = low + datetime.timedelta(days=7 if bucket == "week" else 1)
    if not is_datetime:
        return low, high
    tz = zoneinfo.ZoneInfo(zone)
    return local_midnight(low, tz), local_midnight(high, tz)


# ---------------------------------------------------------------- what a widget returns


@dataclass
class WidgetData:
    chart: str  # bar, line, pie, number, stacked
    labels: list = field(default_factory=list)
    series: list = field(default_factory=list)  # [{"name": str, "data": [number], "drill": [Drill|None]}]
    unit: str = ""

    def add(self, name, data, drill=None):
        self.series.append(
            {"name": str(name), "data": [_number(v) for v in data], "drill": drill or [None] * len(data)}
        )
        return self


@dataclass
class Drill:
    """The records behind one point: a model's list and its conditions, or a named page."""

    model: str
    conditions: list  # [(field, op, value)], op in eq, rel, gt, lt, building
    page: str = None  # an endpoint instead of the model's list (e.g. the arrears report)


def _number(value):
    if value is None:
        return None
    if isinstance(value, Decimal):
        return float(value)
    return value


def _scope_conditions(model_name, flt, dates=True):
    """The drill-down conditions that carry the dashboard's own filters to the list."""
    conditions = []
    date_field = SOURCE_DATES.get(model_name)
    if dates and date_field == "period":
        low, high = flt.periods()
        if low == high:
            conditions.append(("period", "eq", low))
    elif dates and date_field:
        low, high = flt.utc_range()
        conditions += [(date_field, "gt", low - datetime.timedelta(microseconds=1)), (date_field, "lt", high)]
    if flt.building_id:
        conditions.append(("building", "building", flt.building_id))
    if flt.department_id and hasattr(SOURCES.get(model_name), "department_id"):
        conditions.append(("department", "rel", flt.department_id))
    return conditions


BUILDING_MODELS = (Unit, Ticket, Bill, Customer, CustomerUnit, Payment, Communication, TicketRating)
# in_building: the records of one building, along each model's relations to its unit (app.property.units)


def _where(model, flt, dates=True):
    """The dashboard's filters as SQL conditions on one source model."""
    conditions = []
    date_field = SOURCE_DATES.get(model.__name__)
    if dates and date_field == "period":
        low, high = flt.periods()
        conditions += [Bill.period >= low, Bill.period <= high]
    elif dates and date_field:
        low, high = flt.utc_range()
        column = getattr(model, date_field)
        conditions += [column >= low, column < high]
    if flt.building_id:
        conditions.append(in_building(model, flt.building_id))
    if flt.department_id:
        if hasattr(model, "department_id"):
            conditions.append(model.department_id == flt.department_id)
        elif model is TicketRating:
            conditions.append(
                TicketRating.ticket_id.in_(select(Ticket.id).where(Ticket.department_id == flt.department_id))
            )
    return conditions


# ---------------------------------------------------------------- built-in widgets


def _count_by_choice(session, flt, model, field, chart, series):
    """Records per declared choice of ``field`` (in the declaration's order), each a link to its list."""
    column = getattr(model, field)
    choices = column.property.columns[0].info["choices"]
    rows = dict(session.execute(select(column, func.count()).where(*_where(model, flt)).group_by(column)).all())
    codes = [c for c in choices if c in rows]
    scope = _scope_conditions(model.__name__, flt)
    return WidgetData(chart, [choices.label(c) for c in codes]).add(
        series, [rows[c] for c in codes], [Drill(model.__name__, [(field, "eq", c)] + scope) for c in codes]
    )


def tickets_by_status(session, flt):
    return _count_by_choice(session, flt, Ticket, "status", "bar", _("Tickets"))


def tickets_by_type(session, flt):
    return _count_by_choice(session, flt, Ticket, "type", "pie", _("Tickets"))


def tickets_by_channel(session, flt):
    """Requests by the channel they came in by (微信, 网页, 电话, 上门 …): how many residents use the portal."""
    return _count_by_choice(session, flt, Ticket, "channel", "pie", _("Tickets"))


def tickets_per_day(session, flt):
    """New and resolved tickets per local day, in one query (a UNION ALL grouped by day)."""
    dialect = session.get_bind().dialect.name
    low, high = flt.utc_range()
    others = _where(Ticket, flt, dates=False)
    created = select(
        local_bucket(dialect, Ticket.created_at, "day", flt.zone).label("day"),
        literal(1).label("new"),
        literal(0).label("done"),
    ).where(Ticket.created_at >= low, Ticket.created_at < high, *others)
    resolved = select(
        local_bucket(dialect, Ticket.resolved_at, "day", flt.zone).label("day"),
        literal(0).label("new"),
        literal(1).label("done"),
    ).where(Ticket.resolved_at >= low, Ticket.resolved_at < high, *others)
    both = union_all(created, resolved).subquery()
    rows = {
        r[0]: (r[1], r[2])
        for r in session.execute(select(both.c.day, func.sum(both.c.new), func.sum(both.c.done)).group_by(both.c.day))
    }
    days = [flt.start + datetime.timedelta(days=i) for i in range((flt.end - flt.start).days + 1)]
    labels = [d.isoformat() for d in days]
    scope = _scope_conditions("Ticket", flt, dates=False)

    def drill(column, label):
        start, end = bucket_range(label, "day", flt.zone)
        return Drill(
            "Ticket", [(column, "gt", start - datetime.timedelta(microseconds=1)), (column, "lt", end)] + scope
        )

    data = WidgetData("line", labels)
    data.add(_("New"), [int(rows.get(d, (0, 0))[0] or 0) for d in labels], [drill("created_at", d) for d in labels])
    data.add(
        _("Resolved"), [int(rows.get(d, (0, 0))[1] or 0) for d in labels], [drill("resolved_at", d) for d in labels]
    )
    return data


def department_performance(session, flt):
    """Median resolution time (hours) and on-time rate (%) per department, for tickets resolved in
    the period: the median by window functions, so the database does all of it in one statement."""
    dialect = session.get_bind().dialect.name
    low, high = flt.utc_range()
    minutes = minutes_between(dialect, Ticket.resolved_at, Ticket.created_at)
    on_time = case((Ticket.resolution_due.is_(None), None), (Ticket.resolved_at <= Ticket.resolution_due, 1), else_=0)
    # the time is computed once per ticket, then ranked within its department
    timed = (
        select(Ticket.department_id.label("department_id"), minutes.label("minutes"), on_time.label("on_time"))
        .where(
            Ticket.resolved_at >= low,
            Ticket.resolved_at < high,
            Ticket.department_id.is_not(None),
            *_where(Ticket, flt, dates=False),
        )
        .subquery()
    )
    inner = select(
        timed.c.department_id,
        timed.c.minutes,
        timed.c.on_time,
        func.row_number().over(partition_by=timed.c.department_id, order_by=timed.c.minutes).label("rn"),
        func.count().over(partition_by=timed.c.department_id).label("n"),
    ).subquery()
    middle = inner.c.rn.in_([(inner.c.n + 1) // 2, (inner.c.n + 2) // 2])
    rows = session.execute(
        select(Department.id, Department.name, func.avg(case((middle, inner.c.minutes))), func.avg(inner.c.on_time))
        .join(Department, Department.id == inner.c.department_id)
        .group_by(Department.id, Department.name)
        .order_by(Department.name)
    ).all()
    scope = [c for c in _scope_conditions("Ticket", flt, dates=False) if c[0] != "department"]
    start, end = flt.utc_range()
    drills = [
        Drill(
            "Ticket",
            [
                ("department", "rel", r[0]),
                ("resolved_at", "gt", start - datetime.timedelta(microseconds=1)),
                ("resolved_at", "lt", end),
            ]
            + scope,
        )
        for r in rows
    ]
    data = WidgetData("bar", [r[1] for r in rows])
    data.add(
        _("Median resolution time (hours)"),
        [round(float(r[2]) / 60, 1) if r[2] is not None else None for r in rows],
        drills,
    )
    data.add(_("On-time rate (%)"), [round(float(r[3]) * 100, 1) if r[3] is not None else None for r in rows], drills)
    return data


def satisfaction_trend(session, flt):
    dialect = session.get_bind().dialect.name
    month = local_bucket(dialect, TicketRating.rated_at, "month", flt.zone)
    rows = session.execute(
        select(month, func.avg(TicketRating.stars), func.count())
        .where(*_where(TicketRating, flt))
        .group_by(month)
        .order_by(month)
    ).all()
    scope = _scope_conditions("TicketRating", flt, dates=False)
    drills = []
    for r in rows:
        low, high = bucket_range(r[0], "month", flt.zone)
        drills.append(
            Drill(
                "TicketRating",
                [("rated_at", "gt", low - datetime.timedelta(microseconds=1)), ("rated_at", "lt", high)] + scope,
            )
        )
    return WidgetData("line", [r[0] for r in rows], unit="★").add(
        _("Average rating"), [round(float(r[1]), 2) for r in rows], drills
    )


def complaints_by_building(session, flt):
    rows = session.execute(
        select(Building.id, Building.name, func.count(Ticket.id))
        .join(Unit, Unit.id == Ticket.unit_id)
        .join(Building, Building.id == Unit.building_id)
        .where(Ticket.type == "complaint", *_where(Ticket, flt))
        .group_by(Building.id, Building.name)
        .order_by(func.count(Ticket.id).desc(), Building.name)
        .limit(10)
    ).all()
    scope = [c for c in _scope_conditions("Ticket", flt) if c[0] != "building"]
    return WidgetData("bar", [r[1] for r in rows]).add(
        _("Complaints"),
        [r[2] for r in rows],
        [Drill("Ticket", [("type", "eq", "complaint"), ("building", "building", r[0])] + scope) for r in rows],
    )


def collection_rate(session, flt):
    rows = session.execute(
        select(Bill.period, func.sum(Bill.amount), func.sum(Bill.paid_amount))
        .where(*_where(Bill, flt))
        .group_by(Bill.period)
        .order_by(Bill.period)
    ).all()
    scope = _scope_conditions("Bill", flt, dates=False)
    return WidgetData("line", [r[0] for r in rows], unit="%").add(
        _("Collection rate (%)"),
        [round(float(r[2]) * 100 / float(r[1]), 1) if r[1] else None for r in rows],
        [Drill("Bill", [("period", "eq", r[0])] + scope) for r in rows],
    )


def arrears_by_building(session, flt):
    """The arrears-by-building figure (app.billing.bills) as a chart, as of today (not the date range)."""

    rows = by_building(session, flt.today, flt.building_id, limit=15)
    data = WidgetData("stacked", [r["name"] for r in rows], unit="¥")
    drills = [Drill("Bill", [], page=("ArrearsView.report", {"building": r["id"]})) for r in rows]
    for index, name in enumerate(aging_labels()):
        data.add(name, [r["buckets"][index] for r in rows], drills)
    return data


def customers_by_type(session, flt):
    return _count_by_choice(session, flt, Customer, "type", "pie", _("Customers"))


def customers_by_tag(session, flt):
    count = func.count(customer_tag.c.customer_id)
    query = (
        select(Tag.id, Tag.name, count)
        .join(customer_tag, customer_tag.c.tag_id == Tag.id)
        .group_by(Tag.id, Tag.name)
        .order_by(count.desc(), Tag.name)
        .limit(MAX_GROUPS)
    )
    if flt.building_id:
        query = query.where(
            customer_tag.c.customer_id.in_(select(Customer.id).where(in_building(Customer, flt.building_id)))
        )
    rows = session.execute(query).all()
    scope = _scope_conditions("Customer", flt)
    return WidgetData("bar", [r[1] for r in rows]).add(
        _("Customers"), [r[2] for r in rows], [Drill("Customer", [("tags", "rel", r[0])] + scope) for r in rows]
    )


def age_bands(today):
    """(label, born after, born on or before) per band: ages computed from birthdays by date bounds."""

    def years_ago(years):
        try:
            return today.replace(year=today.year - years)
        except ValueError:  # 29 February in a year without one
            return today.replace(year=today.year - years, day=28)

    bands = []
    for low, high in AGE_BANDS:
        label = f"<{high}" if low is None else (f"{low}+" if high is None else f"{low}–{high - 1}")
        # age >= low  <=> born on or before today minus low years; age < high <=> born after today - high years
        bands.append((label, years_ago(high) if high else None, years_ago(low) if low else None))
    return bands


def customers_by_age(session, flt):
    bands = age_bands(flt.today)
    whens = []
    for index, (_label, after, until) in enumerate(bands):
        condition = [Customer.birthday.is_not(None)]
        if after is not None:
            condition.append(Customer.birthday > after)
        if until is not None:
            condition.append(Customer.birthday <= until)
        whens.append((and_(*condition), index))
    band = case(*whens, else_=-1)
    rows = dict(session.execute(select(band, func.count()).where(*_where(Customer, flt)).group_by(band)).all())
    scope = _scope_conditions("Customer", flt)
    labels, values, drills = [], [], []
    for index, (label, after, until) in enumerate(bands):
        if index not in rows:
            continue
        conditions = []
        if after is not None:
            conditions.append(("birthday", "gt", after))
        if until is not None:
            conditions.append(("birthday", "lt", until + datetime.timedelta(days=1)))
        labels.append(label)
        values.append(rows[index])
        drills.append(Drill("Customer", conditions + scope))
    if -1 in rows:
        labels.append(str(_("Unknown")))
        values.append(rows[-1])
        drills.append(None)
    return WidgetData("bar", labels).add(_("Customers"), values, drills)


def customers_by_layout(session, flt):
    """Customers by the layout of the units they live in (a customer in two layouts counts in both)."""
    layout = func.coalesce(Unit.layout, "")
    query = (
        select(layout, func.count(func.distinct(CustomerUnit.customer_id)))
        .join(Unit, Unit.id == CustomerUnit.unit_id)
        .group_by(layout)
        .order_by(layout)
        .limit(MAX_GROUPS)
    )
    if flt.building_id:
        query = query.where(Unit.building_id == flt.building_id)
    rows = session.execute(query).all()
    scope = _scope_conditions("Unit", flt)
    return WidgetData("bar", [r[0] or str(_("Unknown")) for r in rows]).add(
        _("Customers"),
        [r[1] for r in rows],
        [Drill("Unit", [("layout", "eq", r[0])] + scope) if r[0] else None for r in rows],
    )


@dataclass
class BuiltinWidget:
    key: str
    title: object
    function: object
    fields: tuple  # (resource, field) pairs the widget reads: hidden or masked for a user → refused
    width: str = "half"


BUILTIN_WIDGETS = [
    BuiltinWidget("tickets_by_status", _("Tickets by status"), tickets_by_status, (("Ticket", "status"),)),
    BuiltinWidget("tickets_by_type", _("Tickets by type"), tickets_by_type, (("Ticket", "type"),)),
    BuiltinWidget("tickets_by_channel", _("Tickets by channel"), tickets_by_channel, (("Ticket", "channel"),)),
    BuiltinWidget(
        "tickets_per_day",
        _("New and resolved tickets per day"),
        tickets_per_day,
        (("Ticket", "created_at"), ("Ticket", "resolved_at")),
        "full",
    ),
    BuiltinWidget(
        "department_performance",
        _("Resolution time and on-time rate by department"),
        department_performance,
        (("Ticket", "resolved_at"), ("Ticket", "resolution_due"), ("Ticket", "department")),
    ),
    BuiltinWidget("satisfaction_trend", _("Satisfaction by month"), satisfaction_trend, (("TicketRating", "stars"),)),
    BuiltinWidget(
        "complaints_by_building",
        _("Buildings with the most complaints"),
        complaints_by_building,
        (("Ticket", "type"), ("Ticket", "unit")),
    ),
    BuiltinWidget(
        "collection_rate", _("Collection rate by month"), collection_rate, (("Bill", "amount"), ("Bill", "paid_amount"))
    ),
    BuiltinWidget(
        "arrears_by_building",
        _("Arrears by building and age"),
        arrears_by_building,
        (("Bill", "amount"), ("Bill", "paid_amount"), ("Bill", "due_date")),
        "full",
    ),
    BuiltinWidget("customers_by_type", _("Customers by type"), customers_by_type, (("Customer", "type"),)),
    BuiltinWidget("customers_by_tag", _("Customers by tag"), customers_by_tag, (("Customer", "tags"),)),
    BuiltinWidget("customers_by_age", _("Customers by age"), customers_by_age, (("Customer", "birthday"),)),
    BuiltinWidget("customers_by_layout", _("Customers by unit layout"), customers_by_layout, (("Unit", "layout"),)),
]
BUILTIN = {w.key: w for w in BUILTIN_WIDGETS}


def check_fields(fields, access):
    """Refuse a widget that reads a field hidden or masked for this user (a count by a masked
    field would reveal its values). ``access(resource)`` gives the user's FieldAccess."""
    for resource, name in fields:
        levels = access(resource)
        if not levels.model_readable() or levels.hidden(name) or levels.masked(name):
            raise WidgetRefused(_("You may not see the field “%(field)s”, which this widget uses.", field=name))


def builtin_data(session, key, flt, access):
    widget = BUILTIN[key]
    check_fields(widget.fields, access)
    return widget.function(session, flt)


# ---------------------------------------------------------------- widgets defined in the UI


def _column(model, name):
    attr = getattr(model, name, None)
    prop = getattr(attr, "property", None)
    return attr, prop


def groupable_fields(model):
    """{field: kind} a widget may group by: short text and choices, numbers, yes/no, dates
    (bucketed) and many-to-one relations (by the related record). Derived from the model."""
    fields = {}
    for prop in model.__mapper__.attrs:
        if hasattr(prop, "direction"):
            if prop.direction is RelationshipDirection.MANYTOONE:
                fields[prop.key] = "relation"
            continue
        column = getattr(prop, "columns", [None])[0]
        if column is None or column.primary_key or column.foreign_keys or prop.key.startswith("_"):
            continue
        kind = _kind(column.type)
        if kind == "text" and (getattr(column.type, "length", None) or 999) > 50 and "choices" not in column.info:
            continue  # free text: every value its own group
        if kind:
            fields[prop.key] = kind
    return fields


def measurable_fields(model):
    """Numeric fields a widget may sum or average."""
    return [
        prop.key
        for prop in model.__mapper__.column_attrs
        if _kind(prop.columns[0].type) == "number"
        and not prop.columns[0].primary_key
        and not prop.columns[0].foreign_keys
    ]


def _kind(sqltype):
    impl = getattr(sqltype, "impl", sqltype)
    impl = impl() if isinstance(impl, type) else impl
    if isinstance(impl, DateTime):
        return "datetime"
    if isinstance(impl, Date):
        return "date"
    if isinstance(impl, SABoolean):
        return "boolean"
    if isinstance(impl, (Integer, Numeric)):
        return "number"
    if isinstance(impl, String):
        return "text"
    return None


OPERATORS = ("!=", ">=", "<=", "=", " in ")


def parse_conditions(model, text):
    """Fixed filters, one per line (``type = complaint``, ``amount >= 100``, ``status in new, assigned``),
    as [(field, op, value)] with values checked against the field. Raises DomainError naming the line."""
    conditions = []
    kinds = {**groupable_fields(model), **{f: "number" for f in measurable_fields(model)}}
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        for op in OPERATORS:
            if op in line:
                name, value = (part.strip() for part in line.split(op, 1))
                op = op.strip()
                break
        else:
            raise DomainError(_("Line %(line)s: write field = value (or !=, >=, <=, in).", line=number))
        if name not in kinds:
            raise DomainError(_("Line %(line)s: unknown field “%(field)s”.", line=number, field=name))
        values = [v.strip() for v in value.split(",")] if op == "in" else [value]
        try:
            values = [_coerce(model, name, kinds[name], v) for v in values]
        except ValueError as error:
            raise DomainError(_("Line %(line)s: %(error)s", line=number, error=str(error))) from None
        conditions.append((name, op, values if op == "in" else values[0]))
    return conditions


def _coerce(model, name, kind, value):
    if kind == "relation" or kind == "number":
        try:
            return Decimal(value) if kind == "number" else int(value)
        except Exception:
            raise ValueError(_("“%(value)s” is not a number.", value=value)) from None
    if kind == "date":
        return datetime.date.fromisoformat(value)
    if kind == "datetime":
        try:
            return datetime.datetime.combine(datetime.date.fromisoformat(value), datetime.time(), datetime.timezone.utc)
        except ValueError:
            raise ValueError(_("Dates must look like 2026-01-31.")) from None
    if kind == "boolean":
        return value.lower() in ("1", "true", "yes", "y", "是")
    choices = getattr(model, name).property.columns[0].info.get("choices")
    if choices is not None and value not in choices:
        raise ValueError(_("“%(value)s” is not one of: %(choices)s", value=value, choices=", ".join(choices)))
    return value


def check_widget(widget):
    """{form field: message} for a widget definition that cannot work; empty when it can."""
    errors = {}
    model = SOURCES.get(widget.source)
    if model is None:
        return {"source": str(_("Unknown data source."))}
    groupable = groupable_fields(model)
    if widget.group_by and widget.group_by not in groupable:
        errors["group_by"] = str(
            _(
                "“%(field)s” cannot be grouped by on %(source)s.",
                field=widget.group_by,
                source=WIDGET_SOURCES.label(widget.source),
            )
        )
    elif (
        widget.group_by
        and widget.bucket not in (None, "none")
        and groupable[widget.group_by] not in ("date", "datetime")
    ):
        errors["bucket"] = str(_("Only dates can be bucketed by day, week or month."))
    elif widget.group_by and groupable[widget.group_by] in ("date", "datetime") and widget.bucket in (None, "none"):
        errors["bucket"] = str(_("Choose day, week or month for a date."))
    if not widget.group_by and widget.chart != "number":
        errors["group_by"] = str(_("Choose a field to group by, or the number card chart."))
    if widget.measure in ("sum", "avg") and widget.measure_field not in measurable_fields(model):
        errors["measure_field"] = str(
            _("Sum and average need a numeric field of %(source)s.", source=WIDGET_SOURCES.label(widget.source))
        )
    try:
        parse_conditions(model, widget.filters)
    except DomainError as error:
        errors["filters"] = str(error)
    return errors


def widget_fields(widget):
    """The (resource, field) pairs a widget reads: its group-by, measure and filter fields."""
    model = SOURCES[widget.source]
    names = [widget.group_by] if widget.group_by else []
    if widget.measure != "count" and widget.measure_field:
        names.append(widget.measure_field)
    names += [name for name, _op, _value in parse_conditions(model, widget.filters)]
    return tuple((widget.source, name) for name in names)


def _condition_clause(model, name, op, value):
    attr = getattr(model, name)
    prop = attr.property
    if hasattr(prop, "direction"):  # a relation: compare the foreign key
        attr = list(prop.local_columns)[0]
        attr = getattr(model, next(p.key for p in model.__mapper__.column_attrs if p.columns[0] is attr))
    return {
        "=": attr == value,
        "!=": attr != value,
        ">=": attr >= value,
        "<=": attr <= value,
        "in": attr.in_(value if isinstance(value, list) else [value]),
    }[op]


def widget_query(widget, flt, dialect):
    """The one GROUP BY statement behind a widget (columns: key, [label,] value)."""
    model = SOURCES[widget.source]
    if widget.measure == "count":
        measure = func.count()
    else:
        column = getattr(model, widget.measure_field)
        measure = func.sum(column) if widget.measure == "sum" else func.avg(column)
    conditions = [_condition_clause(model, *c) for c in parse_conditions(model, widget.filters)]
    conditions += _where(model, flt)
    if not widget.group_by:
        return select(measure.label("value")).where(*conditions)
    kind = groupable_fields(model)[widget.group_by]
    if kind == "relation":
        prop = getattr(model, widget.group_by).property
        target = prop.mapper.class_
        local = list(prop.local_columns)[0]

        label = getattr(target, display_column(target))
        return (
            select(local.label("key"), label.label("label"), measure.label("value"))
            .outerjoin(target, getattr(model, widget.group_by))
            .where(*conditions)
            .group_by(local, label)
            .order_by(measure.desc())
            .limit(MAX_GROUPS)
        )
    key = getattr(model, widget.group_by)
    if kind in ("date", "datetime"):
        key = local_bucket(dialect, key, widget.bucket, flt.zone)
        return select(key.label("key"), measure.label("value")).where(*conditions).group_by(key).order_by(key)
    order = measure.desc() if widget.chart in ("bar", "pie") else key
    return (
        select(key.label("key"), measure.label("value"))
        .where(*conditions)
        .group_by(key)
        .order_by(order)
        .limit(MAX_GROUPS)
    )


def widget_data(session, widget, flt, access):
    """Run a UI-defined widget for this user: refused when a field it reads is hidden or masked."""
    check_fields(widget_fields(widget), access)
    model = SOURCES[widget.source]
    dialect = session.get_bind().dialect.name
    rows = session.execute(widget_query(widget, flt, dialect)).all()
    if not widget.group_by:
        return WidgetData("number").add(widget.name, [rows[0][0] if rows else 0])
    kind = groupable_fields(model)[widget.group_by]
    groupable = groupable_fields(model)
    fixed = [c for c in parse_conditions(model, widget.filters) if c[1] == "="]
    scope = [
        (name, "rel" if groupable.get(name) == "relation" else "eq", value) for name, _op, value in fixed
    ] + _scope_conditions(widget.source, flt)
    labels, drills = [], []
    choices = getattr(getattr(model, widget.group_by).property, "columns", [None])[0]
    choices = choices.info.get("choices") if choices is not None else None
    for row in rows:
        key = row[0]
        if kind == "relation":
            labels.append(str(row[1]) if row[1] is not None else str(_("Not set")))
            drills.append(Drill(widget.source, [(widget.group_by, "rel", key)] + scope) if key is not None else None)
        elif kind in ("date", "datetime"):
            labels.append(key if key is not None else str(_("Not set")))
            if key is None:
                drills.append(None)
                continue
            low, high = bucket_range(key, widget.bucket, flt.zone, kind == "datetime")
            step = datetime.timedelta(microseconds=1) if kind == "datetime" else datetime.timedelta(days=1)
            drills.append(
                Drill(widget.source, [(widget.group_by, "gt", low - step), (widget.group_by, "lt", high)] + scope)
            )
        else:
            labels.append(choices.label(key) if choices is not None else ("" if key is None else str(key)))
            drills.append(Drill(widget.source, [(widget.group_by, "eq", key)] + scope) if key is not None else None)
    return WidgetData(widget.chart, labels).add(widget.name, [r[-1] for r in rows], drills)


def visible_widgets(session, user_role_ids):
    """The active UI-defined widgets for a user's roles (a widget with no roles is for everyone)."""

    widgets = (
        session.execute(
            select(DashboardWidget)
            .where(DashboardWidget.active.is_(True))
            .order_by(DashboardWidget.position, DashboardWidget.id)
        )
        .scalars()
        .all()
    )
    return [w for w in widgets if not w.roles or any(r.id in user_role_ids for r in w.roles)]


def filter_choices(session):
    """The buildings and departments a dashboard's shared filters offer."""
    return {
        "buildings": session.execute(select(Building.id, Building.name).order_by(Building.name)).all(),
        "departments": session.execute(select(Department.id, Department.name).order_by(Department.name)).all(),
    }
