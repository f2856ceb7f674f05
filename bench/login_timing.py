"""Benchmark: a failed login's reply time for an existing account and for an unknown name.

Run:  .venv/bin/python bench/login_timing.py [--attempts 40]
A temporary SQLite database, the real login page in-process; lockout and the per-address limit are
raised so that every attempt takes the ordinary failure path. Prints the medians and their ratio
(target: the same time, so the reply does not tell whether an account exists).
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--attempts", type=int, default=40)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="crm-bench-")
    os.environ.update(CRM_INSTANCE_DIR=tmp, SECRET_KEY="bench", DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite")
    from app import create_app
    from app.cli import ensure_admin, setup_database

    app = create_app({"WTF_CSRF_ENABLED": False, "CRM_LOGIN_MAX_FAILURES": 10_000, "CRM_LOGIN_RATE_LIMIT": 10_000})
    with app.app_context():
        setup_database()
        ensure_admin("admin", "Bench-admin-2026", "admin@example.com")
    client = app.test_client()
    times = {"existing account": [], "unknown name": []}
    for i in range(args.attempts + 5):
        for label, name in (("existing account", "admin"), ("unknown name", f"nobody{i}")):
            t0 = time.perf_counter()
            client.post("/login/", data={"username": name, "password": "Wrong-password-2026"})
            if i >= 5:  # the first few warm up caches
                times[label].append((time.perf_counter() - t0) * 1000)
    medians = {label: statistics.median(values) for label, values in times.items()}
    ratio = medians["unknown name"] / medians["existing account"]
    print(f"failed login, median of {args.attempts} attempts each (ms)")
    for label, value in medians.items():
        print(f"  {label:18} {value:7.1f}   p95 {sorted(times[label])[int(len(times[label]) * 0.95) - 1]:7.1f}")
    print(f"  unknown / existing {ratio:7.2f}")
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "login_timing.json"), "w") as fh:
        json.dump({"median_ms": medians, "ratio": ratio, "attempts": args.attempts}, fh, indent=2)


if __name__ == "__main__":
    main()
