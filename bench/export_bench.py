"""Benchmark: Excel export of a 100,000-row customer list — time and peak memory.

Run:  .venv/bin/python bench/export_bench.py [--rows 100000]
Builds a temporary SQLite database with the rows (bulk insert), then exports the customer list
through the real page (/customerview/export/) as an admin, and prints wall time, peak RSS of the
process, and the size of the file. Target (issue): under 150 MB RSS and under 10 s.
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def rss_mb():
    """Peak resident memory of this process (VmHWM; ru_maxrss would include the parent's before exec)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database", help="export from this already generated database (internal)")
    args = parser.parse_args()
    if args.database:
        return export(args)
    tmp = tempfile.mkdtemp(prefix="crm-bench-")
    os.environ.update(CRM_INSTANCE_DIR=tmp, SECRET_KEY="bench", DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite")

    from sqlalchemy import insert

    from app import create_app
    from app.cli import ensure_admin, setup_database
    from app.extensions import db
    from app.models import Customer, Tag, customer_tag
    from app.core.column_types import utcnow

    app = create_app({"WTF_CSRF_ENABLED": False})
    with app.app_context():
        setup_database()
        ensure_admin("admin", "Bench-admin-2026", "admin@example.com")
        now = utcnow()
        db.session.execute(
            insert(Tag),
            [{"name": f"标签{i}", "color": "#336699", "created_at": now, "updated_at": now} for i in range(8)],
        )
        families = "王李张刘陈杨黄赵吴周"
        batch = []
        for i in range(args.rows):
            batch.append(
                {
                    "name": f"{families[i % 10]}客户{i}",
                    "phone": f"13{i:09d}",
                    "gender": "unknown",
                    "type": "owner",
                    "status": "active",
                    "created_at": now,
                    "updated_at": now,
                    "notes": '=HYPERLINK("x")' if i % 1000 == 0 else None,
                }
            )
            if len(batch) == 10_000:
                db.session.execute(insert(Customer), batch)
                batch = []
        if batch:
            db.session.execute(insert(Customer), batch)
        ids = [row[0] for row in db.session.query(Customer.id).all()]
        db.session.execute(insert(customer_tag), [{"customer_id": cid, "tag_id": 1 + cid % 8} for cid in ids])
        db.session.commit()
    # the export runs in a fresh process so its peak RSS is the export's, not the data generator's
    import subprocess

    subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--database", tmp], check=True)


def export(args):
    tmp = args.database
    os.environ.update(CRM_INSTANCE_DIR=tmp, SECRET_KEY="bench", DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite")
    from app import create_app

    app = create_app({"WTF_CSRF_ENABLED": False})
    before = rss_mb()
    client = app.test_client()
    client.post("/login/", data={"username": "admin", "password": "Bench-admin-2026"})
    start = time.perf_counter()
    response = client.get("/customerview/export/")
    body = response.get_data()
    elapsed = time.perf_counter() - start
    result = {
        "rows": args.rows,
        "status": response.status_code,
        "seconds": round(elapsed, 2),
        "peak_rss_mb": round(rss_mb(), 1),
        "rss_after_start_mb": round(before, 1),
        "file_mb": round(len(body) / 1e6, 2),
    }
    print(f"{'rows':>8} {'status':>6} {'seconds':>8} {'peak RSS MB':>12} {'RSS at start':>12} {'file MB':>8}")
    print(
        f"{result['rows']:>8} {result['status']:>6} {result['seconds']:>8} {result['peak_rss_mb']:>12} "
        f"{result['rss_after_start_mb']:>12} {result['file_mb']:>8}"
    )
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "export.json"), "w") as fh:
        json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
