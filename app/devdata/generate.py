"""A large, realistic data set for benchmarks and capacity tests: `flask crm generate --size …`.

Buildings, units, customers with tags, tickets with their history, bills with payments, in
bulk: rows are built as tuples and written in chunks, bypassing the ORM and its flush listeners
(COPY on PostgreSQL, executemany elsewhere). What the listeners would have done is done here
in bulk instead, so the data obeys the same rules as data entered through the app:

- every ticket has its history (created, each status change, the assignment) in ticket_event;
- ticket and receipt numbers follow the daily counters, and number_sequence holds each day's
  last value, so numbers issued later by the app never collide;
- a bill's paid amount and status equal what app.billing.bills would compute from its payments;
- SLA due times come from app.tickets.sla's default policies; overdue open tickets are already
  escalated, as the sweep would have done.

Values depend only on the seed and ``now``.
"""

import datetime
import random
import time
from decimal import Decimal

from sqlalchemy import func, select, text

from app.billing.bills import bill_status
from app.core.clock import utcnow
from app.core.text_search import indexed_at_the_end
from app.devdata.demo import (
    DEPARTMENTS,
    DISPATCH_RULES,
    FAMILY_NAMES,
    FEE_RULES,
    FEMALE_NAMES,
    LAYOUTS,
    MALE_NAMES,
    MOBILE_PREFIXES,
    OCCUPATIONS,
    OLD_STATUS_WEIGHTS,
    RECENT_STATUS_WEIGHTS,
    RESULTS,
    STATUS_PATHS,
    TAGS,
    TICKET_DEPARTMENT,
    TICKET_TEXTS,
    TICKET_TYPE_WEIGHTS,
)
from app.models import (
    OPEN_STATUSES,
    Bill,
    Building,
    Customer,
    CustomerUnit,
    Department,
    DispatchRule,
    FeeRule,
    NumberSequence,
    Payment,
    StaffProfile,
    Tag,
    Ticket,
    TicketEvent,
    Unit,
    customer_tag,
)
from app.tickets.sla import FALLBACK, LEVEL_TWO_AFTER, RAISED_PRIORITY, policy_table
from app.core.clock import local_zone
from app.models import TicketRating

UTC = datetime.timezone.utc
DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)
CENT = Decimal("0.01")

# buildings, units per building, tickets, months of bills (one property-fee bill per unit and month)
SIZES = {
    "small": dict(buildings=20, units_per_building=100, tickets=10_000, months=6),
    "medium": dict(buildings=200, units_per_building=100, tickets=100_000, months=6),
    "large": dict(buildings=1_000, units_per_building=100, tickets=1_000_000, months=12),
}
MORE_TAGS = [
    ("业委会成员", "#BCBD22", "业主委员会委员"),
    ("车位业主", "#7F7F7F", "名下有产权车位"),
    ("长期在外", "#AEC7E8", "常年不在本地居住"),
    ("多孩家庭", "#FFBB78", "家中有两个及以上孩子"),
    ("装修中", "#98DF8A", "正在装修，注意噪音与垃圾清运"),
    ("高层住户", "#FF9896", "20层以上住户"),
    ("残障人士", "#C5B0D5", "出行需协助"),
    ("志愿者", "#C49C94", "社区志愿服务骨干"),
]
ESTATES = "锦绣 翠湖 金桂 春江 绿洲 阳光 华庭 紫荆 御景 碧水 云杉 枫林 海棠 香樟 明珠 世纪".split()
ROADS = "锦绣路 张杨路 世纪大道 浦建路 龙阳路 芳甸路 杨高南路 东方路 成山路 高科西路".split()
CHUNK = 20_000


class DatabaseNotEmpty(Exception):
    pass


def _sqlite_value(value):
    """What SQLAlchemy would bind on SQLite: naive-UTC datetime text, ISO dates, float money."""
    if isinstance(value, datetime.datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


class Writer:
    """Writes rows of one table in chunks: COPY on PostgreSQL, executemany on other databases."""

    def __init__(self, connection):
        self.connection = connection
        self.postgresql = connection.dialect.name == "postgresql"
        self.counts = {}

    def write(self, table, columns, rows):
        rows = list(rows)
        if not rows:
            return
        self.counts[table.name] = self.counts.get(table.name, 0) + len(rows)
        names = ", ".join(f'"{c}"' for c in columns)
        if self.postgresql:
            cursor = self.connection.connection.driver_connection.cursor()
            with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
            return
        sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join("?" * len(columns))})'
        if self.connection.dialect.paramstyle != "qmark":
            sql = sql.replace("?", "%s")
        cursor = self.connection.connection.driver_connection.cursor()
        for start in range(0, len(rows), CHUNK):
            cursor.executemany(sql, [tuple(map(_sqlite_value, row)) for row in rows[start : start + CHUNK]])


def _pick(rng, weights):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _next_id(connection, model):
    return (connection.execute(select(func.max(model.id))).scalar() or 0) + 1


def is_empty(connection):
    return all(connection.execute(select(model.id).limit(1)).first() is None for model in (Customer, Ticket, Bill))


# SQLite page cache during a bulk load (negative: KiB): the load is one transaction writing every index
# of a million rows at random places; with the default 2 MB each insert re-read index pages from the WAL
# (the large size read 1.8 TB in 20 minutes and had not finished its tickets)
BULK_CACHE_SIZE = -1024 * 1024


def generate(connection, size="small", seed=2026, now=None, log=print, staff_user_ids=None):
    """Fill the database with a data set of ``size`` (small, medium, large, or a dict like SIZES') in
    bulk; returns the rows written per table.

    ``connection`` is in a transaction the caller commits. ``staff_user_ids`` maps department
    name to the user ids that handle its tickets (the caller creates the accounts).
    """
    if connection.dialect.name != "sqlite":
        return _fill(connection, size, seed, now, log, staff_user_ids)
    usual = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size={BULK_CACHE_SIZE}")
    try:
        with indexed_at_the_end(connection):
            return _fill(connection, size, seed, now, log, staff_user_ids)
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={int(usual)}")


def _fill(connection, size, seed, now, log, staff_user_ids):
    spec = SIZES[size] if isinstance(size, str) else size
    rng = random.Random(seed)
    now = (now or utcnow()).astimezone(UTC).replace(microsecond=0)
    since = now - 400 * DAY
    out = Writer(connection)
    started = time.perf_counter()

    def stage(name):
        log(f"  {name:<12} {time.perf_counter() - started:6.1f} s")

    # departments, dispatch rules, fee rules, tags: reuse what exists (the demo's names)
    departments = dict(connection.execute(select(Department.name, Department.id)).all())
    for name, description in DEPARTMENTS:
        if name not in departments:
            departments[name] = connection.execute(
                Department.__table__.insert()
                .values(name=name, description=description, created_at=since, updated_at=since)
                .returning(Department.id)
            ).scalar_one()
    if connection.execute(select(DispatchRule.id).limit(1)).first() is None:
        connection.execute(
            DispatchRule.__table__.insert(),
            [
                dict(ticket_type=kind, department_id=departments[name], created_at=since, updated_at=since)
                for kind, name in DISPATCH_RULES
            ],
        )
    if connection.execute(select(FeeRule.id).limit(1)).first() is None:
        connection.execute(
            FeeRule.__table__.insert(),
            [
                {
                    "bill_to": "occupant",
                    "due_day": 15,
                    "tiers": None,
                    **rule,
                    "effective_from": since.date().replace(month=1, day=1),
                    "created_at": since,
                    "updated_at": since,
                }
                for rule in FEE_RULES
            ],
        )
    tags = dict(connection.execute(select(Tag.name, Tag.id)).all())
    for name, color, description in TAGS + MORE_TAGS:
        if name not in tags:
            tags[name] = connection.execute(
                Tag.__table__.insert()
                .values(name=name, color=color, description=description, created_at=since, updated_at=since)
                .returning(Tag.id)
            ).scalar_one()
    tag_ids = list(tags.values())
    handlers = staff_user_ids or {}
    stage("reference")

    # buildings and units
    building_id = _next_id(connection, Building)
    existing_codes = set(connection.execute(select(Building.code)).scalars())
    existing_names = set(connection.execute(select(Building.name)).scalars())
    buildings, units = [], []
    unit_id = _next_id(connection, Unit)
    per_building = spec["units_per_building"]
    for index in range(spec["buildings"]):
        code = f"G{index + 1:04d}"
        name = f"{ESTATES[index % len(ESTATES)]}苑{index // len(ESTATES) + 1}号楼"
        if code in existing_codes or name in existing_names:  # a second data set beside the first
            code = f"G{building_id:06d}"
            name = f"{name}（{code}）"
        floors = rng.randint(6, 33)
        buildings.append(
            (
                building_id,
                code,
                name,
                f"上海市浦东新区{rng.choice(ROADS)}{rng.randint(1, 3000)}弄",
                floors,
                since,
                since,
            )
        )
        per_floor = max(1, -(-per_building // floors))
        layout = [rng.choice(LAYOUTS) for _ in range(per_floor)]
        for n in range(per_building):
            floor, stack = divmod(n, per_floor)
            kind, low, high = layout[stack]
            use = "parking" if n == per_building - 1 else ("commercial" if n == per_building - 2 else "residential")
            area = Decimal(rng.randint(low * 100, high * 100)).scaleb(-2) if use != "parking" else Decimal("13.50")
            units.append(
                (
                    unit_id,
                    building_id,
                    f"{floor + 1}{stack + 1:02d}"
                    if use == "residential"
                    else ("P-001" if use == "parking" else "S101"),
                    floor + 1,
                    area,
                    kind if use == "residential" else None,
                    use,
                    _pick(rng, {"occupied": 86, "renovating": 4, "vacant": 10}),
                    since,
                    since,
                )
            )
            unit_id += 1
        building_id += 1
    out.write(Building.__table__, ["id", "code", "name", "address", "floors", "created_at", "updated_at"], buildings)
    out.write(
        Unit.__table__,
        ["id", "building_id", "number", "floor", "area", "layout", "use", "status", "created_at", "updated_at"],
        units,
    )
    stage("units")

    # customers: one household head per unit, tags, the tie to the unit
    phones = set(connection.execute(select(Customer.phone)).scalars())
    customer_id = _next_id(connection, Customer)
    customers, links, tagged, payer = [], [], [], {}
    family_weights = [1 / (i + 4) for i in range(len(FAMILY_NAMES))]
    for unit in units:
        gender = rng.choice(("male", "female"))
        name = rng.choices(FAMILY_NAMES, weights=family_weights)[0] + rng.choice(
            MALE_NAMES if gender == "male" else FEMALE_NAMES
        )
        phone = f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"
        while phone in phones:
            phone = f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"
        phones.add(phone)
        kind = "commercial" if unit[6] == "commercial" else ("tenant" if rng.random() < 0.15 else "owner")
        birthday = datetime.date(rng.randint(1940, 2003), rng.randint(1, 12), rng.randint(1, 28))
        created = since + datetime.timedelta(seconds=rng.randint(0, 200 * 86400))
        customers.append(
            (
                customer_id,
                name,
                gender,
                birthday,
                phone,
                f"u{customer_id}@example.com" if rng.random() < 0.4 else None,
                rng.choice(OCCUPATIONS) if rng.random() < 0.6 else None,
                kind,
                _pick(rng, {"active": 92, "moved_out": 4, "inactive": 4}),
                "sms",
                created,
                created,
            )
        )
        links.append(
            (
                customer_id,
                unit[0],
                "tenant" if kind != "owner" else "owner",
                (created - rng.randint(0, 3000) * DAY).date(),
            )
        )
        for tag_id in rng.sample(tag_ids, _pick(rng, {0: 35, 1: 35, 2: 20, 3: 10})):
            tagged.append((customer_id, tag_id))
        payer[unit[0]] = customer_id
        customer_id += 1
    out.write(
        Customer.__table__,
        [
            "id",
            "name",
            "gender",
            "birthday",
            "phone",
            "email",
            "occupation",
            "type",
            "status",
            "preferred_channel",
            "created_at",
            "updated_at",
        ],
        customers,
    )
    out.write(CustomerUnit.__table__, ["customer_id", "unit_id", "relation", "move_in"], links)
    out.write(customer_tag, ["customer_id", "tag_id"], tagged)
    stage("customers")
    policies = policy_table(connection)  # the firm's own service levels where it has set them

    # tickets and their history, oldest first, numbered by their creation day (local time)

    zone = local_zone()
    sequences = {}

    def number(prefix, at):
        key = f"{prefix}{at.astimezone(zone):%Y%m%d}"
        sequences[key] = sequences.get(key, 0) + 1
        return f"{key}{sequences[key]:04d}"

    existing = dict(connection.execute(select(NumberSequence.key, NumberSequence.value)).all())
    sequences.update(existing)
    department_users = {name: handlers.get(name) or [None] for name in departments}
    creators = handlers.get("客服部") or [None]
    ticket_columns = [
        "id",
        "number",
        "title",
        "type",
        "priority",
        "status",
        "channel",
        "customer_id",
        "unit_id",
        "department_id",
        "assignee_id",
        "deadline",
        "description",
        "resolution",
        "response_due",
        "resolution_due",
        "responded_at",
        "resolved_at",
        "closed_at",
        "escalation_level",
        "escalated_at",
        "created_by_id",
        "updated_by_id",
        "created_at",
        "updated_at",
    ]
    event_columns = ["ticket_id", "at", "actor_id", "kind", "from_status", "to_status", "note"]
    ticket_id = _next_id(connection, Ticket)
    total = spec["tickets"]
    span = int((now - since).total_seconds()) - 3600
    # ticket i is created at a fraction of the span that grows with i (more recent = more tickets)
    batch = 50_000
    for start in range(0, total, batch):
        tickets, events = [], []
        for i in range(start, min(total, start + batch)):
            created = since + datetime.timedelta(seconds=int(span * (i + rng.random()) / total))
            kind = _pick(rng, TICKET_TYPE_WEIGHTS)
            status = _pick(rng, OLD_STATUS_WEIGHTS if now - created > 14 * DAY else RECENT_STATUS_WEIGHTS)
            priority = _pick(rng, {"high": 35 if kind == "complaint" else 15, "medium": 55, "low": 25})
            unit = units[rng.randrange(len(units))]
            title, description = rng.choice(TICKET_TEXTS[kind])
            department = TICKET_DEPARTMENT[kind]
            respond, resolve = policies.get((kind, priority), FALLBACK)
            response_due = created + datetime.timedelta(minutes=respond)
            resolution_due = created + datetime.timedelta(minutes=resolve)
            creator = rng.choice(creators)
            assignee = responded = resolved = closed = resolution = None
            events.append((ticket_id, created, creator, "created", None, "new", None))
            when, previous = created, "new"
            for step in STATUS_PATHS[status][1:]:
                when = min(now, when + rng.randint(1, 30) * HOUR)
                if step == "assigned":
                    assignee = rng.choice(department_users[department])
                    events.append((ticket_id, when, creator, "assigned", None, None, None))
                if step == "in_progress" and responded is None:
                    responded = when
                if step == "resolved":
                    resolved, resolution = when, RESULTS[kind]
                if step == "closed":
                    closed = when
                if step == "reopened":
                    resolved = None
                events.append((ticket_id, when, assignee or creator, "status", previous, step, None))
                previous = step
            level, escalated = 0, None
            if status in OPEN_STATUSES and (
                response_due < now and responded is None or resolution_due < now and resolved is None
            ):
                escalated = max(response_due if responded is None else resolution_due, created)
                level = 2 if escalated < now - LEVEL_TWO_AFTER else 1
                events.append((ticket_id, escalated, None, "escalated", None, None, f"Overdue: level {level}"))
                if level == 2:
                    escalated = escalated + LEVEL_TWO_AFTER
                    events.append((ticket_id, escalated, None, "escalated", None, None, "Overdue: level 2"))
                priority = RAISED_PRIORITY[priority]
            tickets.append(
                (
                    ticket_id,
                    number("WO", created),
                    title,
                    kind,
                    priority,
                    status,
                    _pick(rng, {"phone": 40, "wechat": 30, "walk_in": 15, "web": 10, "email": 5}),
                    payer[unit[0]],
                    unit[0],
                    departments[department],
                    assignee,
                    resolution_due,
                    description,
                    resolution,
                    response_due,
                    resolution_due,
                    responded,
                    resolved,
                    closed,
                    level,
                    escalated,
                    creator,
                    None,
                    created,
                    max(when, escalated or when),
                )
            )
            ticket_id += 1
        out.write(Ticket.__table__, ticket_columns, tickets)
        out.write(TicketEvent.__table__, event_columns, events)
    stage("tickets")

    # bills: a property fee per unit and month, most paid in full, some in part, some not at all
    bill_columns = [
        "id",
        "customer_id",
        "unit_id",
        "period",
        "fee_type",
        "amount",
        "paid_amount",
        "written_off_amount",
        "due_date",
        "status",
        "created_at",
        "updated_at",
    ]
    payment_columns = ["bill_id", "amount", "method", "paid_at", "receipt_number", "kind", "created_at"]
    bill_id = _next_id(connection, Bill)
    prices = {}
    today = now.date()
    for back in range(spec["months"] - 1, -1, -1):
        year, index = divmod(today.year * 12 + today.month - 1 - back, 12)
        month = index + 1
        issued = datetime.datetime(year, month, 1, 1, tzinfo=UTC)
        due = (datetime.date(year, month, 1) + 32 * DAY).replace(day=15)
        period = f"{year}-{month:02d}"
        bills, payments = [], []
        for unit in units:
            price = prices.setdefault(unit[1], Decimal(rng.randint(250, 480)).scaleb(-2))
            amount = Decimal("150.00") if unit[6] == "parking" else (unit[4] * price).quantize(CENT)
            overdue = due < today
            roll = rng.random()
            if overdue and roll < 0.8 or not overdue and roll < 0.35:
                paid = amount
            elif overdue and roll < 0.88:
                paid = (amount / 2).quantize(CENT)
            else:
                paid = Decimal("0.00")
            updated = issued
            if paid:
                deadline = datetime.datetime.combine(due, datetime.time(8), tzinfo=UTC) + 10 * DAY
                window = max(60, int((min(now, deadline) - issued).total_seconds()))
                paid_at = issued + datetime.timedelta(seconds=rng.randrange(window))
                payments.append(
                    (
                        bill_id,
                        paid,
                        _pick(rng, {"wechat": 45, "alipay": 30, "bank": 15, "cash": 10}),
                        paid_at,
                        None,
                        "payment",
                        paid_at,
                    )
                )
                updated = paid_at
            bills.append(
                (
                    bill_id,
                    payer[unit[0]],
                    unit[0],
                    period,
                    "property",
                    amount,
                    paid,
                    Decimal("0.00"),
                    due,
                    bill_status(amount, paid, Decimal("0.00")),
                    issued,
                    updated,
                )
            )
            bill_id += 1
        # receipt numbers by payment day, in the order of payment
        payments.sort(key=lambda row: row[3])
        payments = [row[:4] + (number("RC", row[3]),) + row[5:] for row in payments]
        out.write(Bill.__table__, bill_columns, bills)
        out.write(Payment.__table__, payment_columns, payments)
    stage("bills")
    out.counts["ticket_rating"] = rate_tickets(connection)
    stage("ratings")

    # the daily counters continue after the generated numbers
    new_keys = {k: v for k, v in sequences.items() if k not in existing}
    for key, value in sequences.items():
        if key in existing and value != existing[key]:
            connection.execute(NumberSequence.__table__.update().where(NumberSequence.key == key).values(value=value))
    out.write(NumberSequence.__table__, ["key", "value"], sorted(new_keys.items()))
    if out.postgresql:  # explicit ids: move each id sequence past them
        for table in (
            "building",
            "unit",
            "customer",
            "customer_unit",
            "ticket",
            "ticket_event",
            "bill",
            "payment",
            "tag",
            "department",
        ):
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f'(SELECT COALESCE(MAX(id), 1) FROM "{table}"))'
                )
            )
        for table in ("ticket", "ticket_event", "bill", "payment", "customer", "customer_tag", "customer_unit"):
            connection.execute(text(f'ANALYZE "{table}"'))
    stage("done")
    return out.counts


def rate_tickets(connection):
    """Six in ten finished tickets rated by their customer when resolved, mostly 4 or 5 stars
    (one INSERT … SELECT; the ratings follow the ticket ids, so they are the same for a seed)."""
    from sqlalchemy import case, insert, literal

    bucket = (Ticket.id // 10) % 10
    stars = case((bucket == 0, 2), (bucket == 1, 3), (bucket < 5, 4), else_=5)
    rated = (
        select(Ticket.id, stars, literal("link"), Ticket.resolved_at)
        .where(Ticket.status.in_(("resolved", "closed")), Ticket.resolved_at.is_not(None), Ticket.id % 10 < 6)
        .where(~select(TicketRating.id).where(TicketRating.ticket_id == Ticket.id).exists())
    )
    count = select(func.count()).select_from(TicketRating)
    before = connection.scalar(count)  # (the driver's row count of an INSERT … SELECT is not reliable)
    connection.execute(insert(TicketRating).from_select(["ticket_id", "stars", "source", "rated_at"], rated))
    if connection.dialect.name == "postgresql":
        connection.execute(text("ANALYZE ticket_rating"))
    return connection.scalar(count) - before


def staff_handlers(session):
    """User ids of the staff of each department (who gets a generated ticket)."""
    rows = session.execute(
        select(Department.name, StaffProfile.user_id).join(StaffProfile, StaffProfile.department_id == Department.id)
    ).all()
    handlers = {}
    for name, user_id in rows:
        handlers.setdefault(name, []).append(user_id)
    return handlers
