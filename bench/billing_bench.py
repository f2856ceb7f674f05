"""Benchmark: generating a month's bills for 100,000 units on SQLite — time and peak memory.

Run:  .venv/bin/python bench/billing_bench.py [--units 100000]
Builds a temporary SQLite database (buildings, units, one owner per unit, a fifth of them let to a
tenant, water readings for every unit), then runs app.billing.bills.generate_bills for one period with
three rules (property per m², water metered with tiers, parking fixed) and again to show the
second run creates nothing. Target (issue): under 60 s for 100,000 units.
"""

import argparse
import datetime
import os
import sys
import tempfile
import time
from decimal import Decimal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

from export_bench import rss_mb  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=100_000)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="crm-bench-")
    os.environ.update(CRM_INSTANCE_DIR=tmp, SECRET_KEY="bench", DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite")

    from sqlalchemy import func, insert, select

    from app import create_app
    from app.billing.bills import generate_bills
    from app.cli import setup_database
    from app.extensions import db
    from app.models import Bill, Building, Customer, CustomerUnit, FeeRule, MeterReading, Unit
    from app.core.column_types import utcnow

    app = create_app()
    with app.app_context():
        setup_database()
        now = utcnow()
        per_building = 500
        buildings = (args.units + per_building - 1) // per_building
        db.session.execute(
            insert(Building),
            [
                {"code": f"B{b:04d}", "name": f"{b}栋", "floors": 25, "created_at": now, "updated_at": now}
                for b in range(buildings)
            ],
        )
        building_ids = db.session.execute(select(Building.id).order_by(Building.id)).scalars().all()
        units, people = [], []
        for i in range(args.units):
            use = "parking" if i % 10 == 9 else "residential"
            units.append(
                {
                    "building_id": building_ids[i // per_building],
                    "number": f"{i % per_building:04d}",
                    "area": Decimal("12") if use == "parking" else Decimal("60") + i % 80,
                    "use": use,
                    "status": "occupied",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            people.append(
                {
                    "name": f"业主{i}",
                    "phone": f"13{i:09d}",
                    "gender": "unknown",
                    "type": "owner",
                    "status": "active",
                    "preferred_channel": "sms",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        for rows, model in ((units, Unit), (people, Customer)):
            for start in range(0, len(rows), 20000):
                db.session.execute(insert(model), rows[start : start + 20000])
        unit_ids = db.session.execute(select(Unit.id).order_by(Unit.id)).scalars().all()
        customer_ids = db.session.execute(select(Customer.id).order_by(Customer.id)).scalars().all()
        links = [{"customer_id": c, "unit_id": u, "relation": "owner"} for u, c in zip(unit_ids, customer_ids)]
        links += [
            {"customer_id": customer_ids[(k + 1) % len(customer_ids)], "unit_id": u, "relation": "tenant"}
            for k, u in enumerate(unit_ids)
            if k % 5 == 0
        ]
        readings = [
            {
                "unit_id": u,
                "fee_type": "water",
                "period": "2026-11",
                "previous_reading": Decimal("100"),
                "reading": Decimal("100") + k % 50,
                "created_at": now,
                "updated_at": now,
            }
            for k, u in enumerate(unit_ids)
            if k % 10 != 9
        ]
        for rows, model in ((links, CustomerUnit), (readings, MeterReading)):
            for start in range(0, len(rows), 20000):
                db.session.execute(insert(model), rows[start : start + 20000])
        first = datetime.date(2026, 1, 1)
        db.session.add_all(
            [
                FeeRule(
                    name="住宅物业费",
                    fee_type="property",
                    method="per_area",
                    price=Decimal("2.50"),
                    unit_use="residential",
                    effective_from=first,
                ),
                FeeRule(
                    name="阶梯水费",
                    fee_type="water",
                    method="metered",
                    price=Decimal("0"),
                    tiers="20:3.50, 40:4.20, :5.00",
                    unit_use="residential",
                    effective_from=first,
                    due_day=20,
                ),
                FeeRule(
                    name="车位管理费",
                    fee_type="parking",
                    method="per_unit",
                    price=Decimal("150"),
                    unit_use="parking",
                    effective_from=first,
                    bill_to="owner",
                ),
            ]
        )
        db.session.commit()
        print(f"database ready: {args.units} units, {len(links)} residences, {len(readings)} readings")

        started = time.perf_counter()
        run = generate_bills(db.session, "2026-11", utcnow())
        first_run = time.perf_counter() - started
        started = time.perf_counter()
        again = generate_bills(db.session, "2026-11", utcnow())
        second_run = time.perf_counter() - started
        total = db.session.execute(select(func.count()).select_from(Bill)).scalar()
        print(f"first run:  {first_run:.1f} s, created {run.created}, problems {run.problem_count}")
        print(f"second run: {second_run:.1f} s, created {again.created}, already there {again.existing}")
        print(f"bills in the database: {total}; peak RSS {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
