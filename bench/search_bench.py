"""Benchmark of the search boxes: customer by name and phone, tickets by 1-, 2- and 3-character terms,
by digits and through the customer — list pages (100 rows) as an admin, p50/p95 of ``--repeat`` runs.

Run on a database `flask crm generate` filled (the admin password of `crm init` not needed):
  .venv/bin/python bench/search_bench.py --database-url sqlite:////tmp/x.sqlite
``--root DIR`` times the app of another checkout on the same database (before/after).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from urllib.parse import quote

PASSWORD = "Bench-search-2026"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    args = parser.parse_args()
    sys.path.insert(0, args.root)
    os.environ.update(DATABASE_URL=args.database_url, SECRET_KEY="bench")
    os.environ.setdefault("CRM_INSTANCE_DIR", tempfile.mkdtemp(prefix="crm-searchbench-"))

    from sqlalchemy import func, select

    from app import create_app
    from app.cli import ensure_admin
    from app.extensions import db
    from app.models import Customer

    app = create_app({"WTF_CSRF_ENABLED": False, "TESTING": True})
    with app.app_context():
        ensure_admin("searchbench", PASSWORD, "searchbench@example.com")
        db.session.commit()
        count = db.session.scalar(select(func.count()).select_from(Customer))
        sample = db.session.execute(
            select(Customer.name, Customer.phone).order_by(Customer.id).offset(count // 2).limit(1)
        ).one()
        db.session.remove()
    statements = []
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    event.listen(
        engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, params, context, many: statements.append((statement, params)),
    )
    client = app.test_client()
    assert client.post("/login/", data={"username": "searchbench", "password": PASSWORD}).status_code == 302
    customers, tickets = "/customerview/list/?psize_CustomerView=100&q=", "/ticketview/list/?psize_TicketView=100&q="
    cases = [
        ("ticket list, no search", tickets.rstrip("&q=") + "&q="),
        ("customer: full name", customers + sample.name),
        ("customer: full phone", customers + sample.phone),
        ("customer: phone prefix (7)", customers + sample.phone[:7]),
        ("customer: 1 char 王", customers + "王"),
        ("ticket: 3 chars 水龙头", tickets + "水龙头"),
        ("ticket: 2 chars 漏水", tickets + "漏水"),
        ("ticket: 1 char 王", tickets + "王"),
        ("ticket: customer name", tickets + sample.name),
        ("ticket: customer phone", tickets + sample.phone),
        ("ticket: number digits", tickets + "0001"),
    ]
    print(f"{'case':32} {'p50 ms':>8} {'p95 ms':>8} {'SQL ms':>8}  (SQL: the page's statements replayed, median)")
    for label, url in cases:
        url = url.split("q=")[0] + "q=" + quote(url.split("q=", 1)[1])
        assert client.get(url).status_code == 200
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        statements.clear()
        client.get(url)
        replayed = list(statements)
        raw = engine.raw_connection()
        sql = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            for statement, params in replayed:
                if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                    continue
                cursor = raw.cursor()
                cursor.execute(statement, params)
                cursor.fetchall()
            sql.append((time.perf_counter() - started) * 1000)
        raw.close()
        print(f"{label:32} {statistics.median(times):8.1f} {p95:8.1f} {statistics.median(sql):8.1f}", flush=True)


if __name__ == "__main__":
    main()
