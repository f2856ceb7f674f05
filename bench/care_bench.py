"""Benchmark: sending a survey to N customers (recipients and outbox messages written in the request)
and generating a year of weekly maintenance work orders for M plans, on SQLite — time each, and the
second run of the maintenance job (which must create nothing).

Run:  .venv/bin/python bench/care_bench.py [--customers 5000] [--plans 200]
"""

import argparse
import datetime
import os
import sys
import tempfile
import time
import zoneinfo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--plans", type=int, default=200)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="crm-bench-")
    os.environ.update(CRM_INSTANCE_DIR=tmp, SECRET_KEY="bench", DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite")

    from sqlalchemy import insert

    from app import create_app
    from app.facilities import maintenance
    from app.care import surveys
    from app.cli import setup_database
    from app.extensions import db
    from app.models import Building, Customer, Equipment, MaintenancePlan, Survey, SurveyQuestion
    from app.core.column_types import utcnow

    app = create_app()
    with app.app_context():
        setup_database()
        db.session.info["actor_id"] = None
        db.session.execute(
            insert(Customer),
            [
                {
                    "name": f"客户{i}",
                    "phone": f"139{i:08d}",
                    "type": "owner",
                    "status": "active",
                    "gender": "unknown",
                    "preferred_channel": "sms",
                    "created_at": utcnow(),
                    "updated_at": utcnow(),
                }
                for i in range(args.customers)
            ],
        )
        survey = Survey(
            title="基准调查",
            link_days=14,
            status="draft",
            questions=[SurveyQuestion(position=1, text="总体评价", kind="rating", required=True)],
        )
        db.session.add(survey)
        db.session.commit()
        started = time.perf_counter()
        sent = surveys.send(db.session, survey, utcnow(), "http://crm.example", "bench")
        print(f"survey sent to {sent} customers in {time.perf_counter() - started:.1f} s")

        building = Building(code="B1", name="基准楼")
        db.session.add(building)
        for i in range(args.plans):
            equipment = Equipment(code=f"E{i}", name=f"设备{i}", kind="water_pump", building=building)
            db.session.add(
                MaintenancePlan(
                    title=f"保养{i}",
                    equipment=equipment,
                    every=1,
                    unit="weeks",
                    start_date=datetime.date(2026, 1, 5),
                    lead_days=90,
                )
            )
        db.session.commit()
        zone = zoneinfo.ZoneInfo("Asia/Shanghai")
        for run in (1, 2):
            started = time.perf_counter()
            raised = maintenance.generate_work_orders(db.session, datetime.date(2026, 1, 1), zone)
            print(f"maintenance run {run}: {raised} work orders in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
