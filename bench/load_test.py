"""Load test: concurrent staff browsing, searching, opening and creating tickets and exporting,
against a running server (gunicorn + PostgreSQL on loopback), for a bounded time.

Run (see README "Production serving"):
  .venv/bin/python bench/load_test.py --base-url http://127.0.0.1:8000 --users 50 --seconds 60 \
      --username admin --password … [--database-url postgresql+psycopg://…]
The server should allow 50 logins from one address: CRM_LOGIN_RATE_LIMIT=1000.

Each virtual user logs in once (its own session, CSRF token), then repeats a weighted mix:
ticket list (default order, a status filter, a page further on), customer search by name or
phone, a ticket's page, a new ticket through the REST API, and a small Excel export. Reports
throughput, p50/p95 per action, every 5xx, and afterwards looks up every ticket it created (by its
unique title, in the database when --database-url is given, else through the API): none may be
missing. Prints a table; writes bench/results/load_test.json. Exit status 1 on any 5xx or lost write.
"""

import argparse
import json
import os
import random
import re
import statistics
import sys
import threading
import time
import uuid

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
NAMES = "王伟 李娜 张敏 刘洋 陈静 杨磊 黄丽 赵军 吴芳 周杰".split()


class Staff(threading.Thread):
    def __init__(self, index, args, deadline, samples, created, errors, customers):
        super().__init__(daemon=True)
        self.index, self.args, self.deadline = index, args, deadline
        self.samples, self.created, self.errors, self.customers = samples, created, errors, customers
        self.http = requests.Session()
        self.rng = random.Random(index)

    def call(self, action, method, path, **kwargs):
        started = time.perf_counter()
        try:
            response = self.http.request(method, self.args.base_url + path, timeout=60, allow_redirects=False, **kwargs)
            status = response.status_code
        except requests.RequestException as error:
            response, status = None, f"error {type(error).__name__}"
        elapsed = (time.perf_counter() - started) * 1000
        self.samples.append((action, elapsed, status))
        if not isinstance(status, int) or status >= 300:  # a redirect here means the session was lost
            self.errors.append((action, path, status, response.text[:200] if response is not None else ""))
        return response

    def login(self):
        page = self.http.get(self.args.base_url + "/login/", timeout=60).text
        token = CSRF.search(page).group(1)
        response = self.http.post(
            self.args.base_url + "/login/",
            allow_redirects=False,
            timeout=60,
            data={"username": self.args.username, "password": self.args.password, "csrf_token": token},
        )
        if response.status_code != 302 or "/login" in response.headers.get("Location", ""):
            raise RuntimeError(f"login failed: {response.status_code} {response.headers.get('Location')}")
        page = self.http.get(self.args.base_url + "/ticketview/add", timeout=60).text
        self.http.headers["X-CSRFToken"] = CSRF.search(page).group(1)

    def run(self):
        try:
            self.login()
        except Exception as error:  # noqa: BLE001 — counted as a failure of this user
            self.errors.append(("login", "/login/", None, str(error)))
            return
        actions = [
            (self.list_tickets, 30),
            (self.search_customers, 20),
            (self.filter_tickets, 10),
            (self.show_ticket, 15),
            (self.create_ticket, 15),
            (self.deep_page, 5),
            (self.export, 5),
        ]
        functions, weights = zip(*actions)
        while time.monotonic() < self.deadline:
            self.rng.choices(functions, weights)[0]()
            if self.args.think_seconds:  # a person reads the page before the next click
                time.sleep(self.rng.uniform(0, 2 * self.args.think_seconds))

    def list_tickets(self):
        self.call("ticket list", "GET", "/ticketview/list/?psize_TicketView=25")

    def filter_tickets(self):
        self.call("ticket list filtered", "GET", "/ticketview/list/?psize_TicketView=25&_flt_3_status=in_progress")

    def deep_page(self):
        self.call("ticket list page 200", "GET", "/ticketview/list/?psize_TicketView=25&page_TicketView=199")

    def search_customers(self):
        term = self.rng.choice(NAMES) if self.rng.random() < 0.6 else f"13{self.rng.randint(0, 99):02d}"
        self.call("customer search", "GET", f"/customerview/list/?q={term}")

    def show_ticket(self):
        self.call("ticket page", "GET", f"/ticketview/show/{self.rng.randint(1, self.args.max_ticket_id)}")

    def create_ticket(self):
        title = f"压测{uuid.uuid4().hex[:12]}"
        customer_id, unit_id = self.rng.choice(self.customers)
        response = self.call(
            "create ticket",
            "POST",
            "/api/v1/ticket/",
            json={
                "title": title,
                "type": "repair",
                "priority": "medium",
                "channel": "phone",
                "customer": customer_id,
                "unit": unit_id,
                "description": "卫生间马桶堵塞，自行疏通无效。",
            },
        )
        if response is not None and response.status_code == 201:
            self.created.append(title)

    def export(self):
        self.call("export", "GET", f"/customerview/export/?q={self.rng.choice(NAMES)}")


def sample_customers(args):
    """(customer id, unit id) pairs to create tickets for."""
    from sqlalchemy import create_engine, text

    engine = create_engine(args.database_url)
    with engine.connect() as connection:
        pairs = connection.execute(text("SELECT customer_id, unit_id FROM customer_unit ORDER BY id LIMIT 500")).all()
        max_ticket = connection.execute(text("SELECT max(id) FROM ticket")).scalar() or 1
    engine.dispose()
    return [tuple(p) for p in pairs], max_ticket


def find_created(args, titles):
    from sqlalchemy import bindparam, create_engine, text

    engine = create_engine(args.database_url)
    found = set()
    with engine.connect() as connection:
        query = text("SELECT title FROM ticket WHERE title IN :titles").bindparams(bindparam("titles", expanding=True))
        for start in range(0, len(titles), 500):
            found.update(connection.execute(query, {"titles": titles[start : start + 500]}).scalars())
    engine.dispose()
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument(
        "--think-seconds",
        type=float,
        default=0,
        help="mean pause between one user's requests (0: as fast as the server answers)",
    )
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default=os.environ.get("CRM_ADMIN_PASSWORD"))
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), required=False)
    args = parser.parse_args()
    if not args.database_url:
        parser.error("--database-url (or DATABASE_URL) is needed to pick customers and to check the writes")
    customers, args.max_ticket_id = sample_customers(args)
    samples, created, errors = [], [], []
    deadline = time.monotonic() + args.seconds
    started = time.perf_counter()
    staff = [Staff(i, args, deadline, samples, created, errors, customers) for i in range(args.users)]
    for member in staff:
        member.start()
        time.sleep(0.05)  # logins spread over the first seconds, as a shift starting
    for member in staff:
        member.join(args.seconds + 120)
    elapsed = time.perf_counter() - started
    found = find_created(args, created)
    lost = [t for t in created if t not in found]
    by_action = {}
    for action, ms, _status in samples:
        by_action.setdefault(action, []).append(ms)
    rows = []
    for action, times in sorted(by_action.items()):
        ordered = sorted(times)
        rows.append(
            dict(
                action=action,
                requests=len(times),
                p50_ms=round(statistics.median(times), 1),
                p95_ms=round(ordered[int(0.95 * (len(ordered) - 1))], 1),
            )
        )
    all_times = sorted(ms for _, ms, _ in samples)
    server_errors = [e for e in errors if e[0] != "login" and not (isinstance(e[2], int) and e[2] < 500)]
    result = dict(
        users=args.users,
        think_seconds=args.think_seconds,
        seconds=round(elapsed, 1),
        requests=len(samples),
        throughput_rps=round(len(samples) / elapsed, 1),
        p50_ms=round(statistics.median(all_times), 1) if all_times else None,
        p95_ms=round(all_times[int(0.95 * (len(all_times) - 1))], 1) if all_times else None,
        errors_5xx=len(server_errors),
        other_errors=len(errors) - len(server_errors),
        tickets_created=len(created),
        tickets_lost=len(lost),
        actions=rows,
        first_errors=errors[:10],
    )
    print(
        f"{args.users} users (think {args.think_seconds} s) for {elapsed:.0f} s: {len(samples)} requests, {result['throughput_rps']} req/s, "
        f"p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms"
    )
    print(f"{'action':<24} {'requests':>9} {'p50 ms':>8} {'p95 ms':>8}")
    for row in rows:
        print(f"{row['action']:<24} {row['requests']:9} {row['p50_ms']:8.1f} {row['p95_ms']:8.1f}")
    print(
        f"5xx/connection errors: {len(server_errors)}; other failures: {len(errors) - len(server_errors)}; "
        f"tickets created {len(created)}, found afterwards {len(created) - len(lost)}, lost {len(lost)}"
    )
    for error in errors[:10]:
        print("  ", error)
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "load_test.json"), "w") as fh:
        json.dump(result, fh, indent=2, ensure_ascii=False)
    sys.exit(1 if server_errors or lost or errors else 0)


if __name__ == "__main__":
    main()
