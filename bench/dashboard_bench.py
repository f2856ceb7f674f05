"""Benchmark: every dashboard widget's data on a large data set — time per widget, as a manager
would load it (the JSON endpoint, in-process) and as the bare domain call.

Run:
  .venv/bin/python bench/dashboard_bench.py --size large            # generates 1,000,000 tickets first
  .venv/bin/python bench/dashboard_bench.py --database-url URL      # an already generated database
Options: --size small|medium|large (generate into a fresh SQLite file, or into --database-url when
it is empty), --repeat N (default 5), --days N (the date range, default 30; 365 for a year).
Prints a table and writes bench/results/dashboard-<database>-<size>.json.
Target (issue): every widget under 300 ms on SQLite and PostgreSQL at 1,000,000 tickets.
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
TARGET_MS = 300


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--size", choices=["small", "medium", "large"])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="crm-bench-")
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite"
    env = dict(
        os.environ,
        CRM_INSTANCE_DIR=tmp,
        SECRET_KEY="bench",
        DATABASE_URL=url,
        FLASK_APP="app",
        CRM_ADMIN_PASSWORD="Bench-admin-2026",
    )
    os.environ.update(env)
    flask = [sys.executable, "-m", "flask"]
    subprocess.run(flask + ["crm", "init"], cwd=ROOT, env=env, check=True, capture_output=True)
    if args.size:
        started = time.perf_counter()
        done = subprocess.run(
            flask + ["crm", "generate", "--size", args.size], cwd=ROOT, env=env, capture_output=True, text=True
        )
        if done.returncode and "already has" not in done.stderr:
            sys.exit(done.stderr)
        print(f"data set ready in {time.perf_counter() - started:.0f} s")

    from sqlalchemy import func, select

    from app import create_app
    from app.reporting.dashboards import BUILTIN_WIDGETS, DashboardFilter
    from app.extensions import db
    from app.policy.field_permissions import FieldAccess
    from app.models import Customer, Ticket

    app = create_app({"WTF_CSRF_ENABLED": False})
    with app.app_context():
        dialect = db.engine.dialect.name
        tickets = db.session.scalar(select(func.count()).select_from(Ticket))
        customers = db.session.scalar(select(func.count()).select_from(Customer))
        newest = db.session.scalar(select(func.max(Ticket.created_at))) or datetime.datetime.now(datetime.timezone.utc)
        end = newest.astimezone(datetime.timezone(datetime.timedelta(hours=8))).date()
        start = end - datetime.timedelta(days=args.days - 1)
        flt = DashboardFilter(start, end, zone=app.config["TIMEZONE"], today=end)

        def everyone(resource):
            return FieldAccess({}, resource)

        client = app.test_client()
        client.post("/login/", data={"username": "admin", "password": "Bench-admin-2026"})
        rows = []
        for widget in BUILTIN_WIDGETS:
            bare, page = [], []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                widget.function(db.session, flt)
                bare.append((time.perf_counter() - t0) * 1000)
                db.session.rollback()
                t0 = time.perf_counter()
                response = client.get(f"/dashboard/data/{widget.key}?start={start}&end={end}")
                page.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (widget.key, response.status_code)
            rows.append(
                {
                    "widget": widget.key,
                    "query_ms_median": round(statistics.median(bare), 1),
                    "endpoint_ms_median": round(statistics.median(page), 1),
                    "endpoint_ms_max": round(max(page), 1),
                    "met": max(page) < TARGET_MS,
                }
            )
    print(
        f"\ndashboard widgets on {dialect}: {tickets:,} tickets, {customers:,} customers, "
        f"range {start} – {end} ({args.days} days), {args.repeat} runs each"
    )
    print(f"{'widget':28} {'query ms':>9} {'endpoint ms':>12} {'max ms':>8}  < {TARGET_MS} ms")
    for row in rows:
        print(
            f"{row['widget']:28} {row['query_ms_median']:9.1f} {row['endpoint_ms_median']:12.1f} "
            f"{row['endpoint_ms_max']:8.1f}  {'yes' if row['met'] else 'NO'}"
        )
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    name = f"dashboard-{dialect}-{args.size or 'given'}-{args.days}d.json"
    with open(os.path.join(ROOT, "bench", "results", name), "w") as fh:
        json.dump(
            {
                "database": dialect,
                "tickets": tickets,
                "customers": customers,
                "days": args.days,
                "target_ms": TARGET_MS,
                "widgets": rows,
            },
            fh,
            indent=2,
        )
    return 0  # a benchmark reports; the figures, not the exit code, say whether targets are met


if __name__ == "__main__":
    sys.exit(main())
