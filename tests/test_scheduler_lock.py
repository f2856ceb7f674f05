"""Exactly one scheduler: two real `flask crm scheduler` processes on one database; one schedules,
the other waits, takes over when the first is killed, and no scheduled run happens twice.

Runs against the suite's database: PostgreSQL (advisory lock) in CI's PostgreSQL pass,
SQLite (file lock) otherwise.
"""

import datetime
import os
import queue
import signal
import subprocess
import sys
import threading
import time

from sqlalchemy import func, select

from app.extensions import db
from app.jobs import ANCHOR, run_claimed, slot_of
from app.models import JobRun

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class SchedulerProcess:
    def __init__(self, app, tmp_path, name):
        env = dict(
            os.environ,
            DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
            SECRET_KEY="test-secret",
            CRM_INSTANCE_DIR=str(tmp_path / name),
            CRM_OUTBOX_SECONDS="1",
            PYTHONUNBUFFERED="1",
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "crm", "scheduler", "--retry-seconds", "1"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines = queue.Queue()
        self.output = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_for(self, words, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if words in self.lines.get(timeout=0.5):
                    return
            except queue.Empty:
                if self.process.poll() is not None:
                    break
        raise AssertionError(f"no '{words}' from the scheduler:\n{''.join(self.output)}")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _runs(job="deliver_notifications"):
    rows = db.session.execute(select(JobRun.pid, JobRun.slot).where(JobRun.job == job).order_by(JobRun.slot)).all()
    db.session.rollback()  # never hold a transaction (on SQLite: the write lock) while the schedulers work
    return rows


def _wait_for_runs(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = _runs()
        if predicate(runs):
            return runs
        time.sleep(0.5)
    raise AssertionError(f"runs so far: {_runs()}")


def test_two_scheduler_processes_run_each_job_once_and_the_second_takes_over(app, ctx, tmp_path):
    first = SchedulerProcess(app, tmp_path, "first")
    second = None
    try:
        first.wait_for("scheduler lock taken")
        second = SchedulerProcess(app, tmp_path, "second")
        second.wait_for("another scheduler holds the lock")
        runs = _wait_for_runs(lambda runs: len(runs) >= 4)
        # only the holder ran jobs, once per scheduled slot
        assert {pid for pid, _ in runs} == {first.process.pid}
        assert len({slot for _, slot in runs}) == len(runs)

        first.process.kill()  # no clean shutdown: the lock must go with the process
        first.process.wait()
        killed_at = time.monotonic()
        second.wait_for("scheduler lock taken")
        assert time.monotonic() - killed_at < 60
        runs = _wait_for_runs(lambda runs: sum(pid == second.process.pid for pid, _ in runs) >= 3)
        assert {pid for pid, _ in runs} == {first.process.pid, second.process.pid}
        slots = [slot for _, slot in runs]
        assert len(set(slots)) == len(slots)
        # every job that ran at all ran once per slot
        duplicates = db.session.execute(
            select(JobRun.job, JobRun.slot).group_by(JobRun.job, JobRun.slot).having(func.count() > 1)
        ).all()
        db.session.rollback()
        assert duplicates == []
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_a_claimed_slot_runs_once(app, ctx):
    calls = []

    def sample_job(app_):
        calls.append(1)
        return len(calls)

    assert run_claimed(sample_job, 3600, app, "host-a:101") == 1
    assert run_claimed(sample_job, 3600, app, "host-b:202") is None  # same hour: already claimed
    assert calls == [1]
    run = db.session.execute(select(JobRun)).scalar_one()
    assert (run.job, run.host, run.pid, run.outcome) == ("sample_job", "host-a", 101, "1")
    assert run.finished_at is not None


def test_slots_are_the_same_for_every_scheduler():
    at = ANCHOR + datetime.timedelta(days=3, seconds=95)
    assert slot_of(at, 60) == ANCHOR + datetime.timedelta(days=3, seconds=60)
    assert slot_of(at + datetime.timedelta(seconds=20), 60) == slot_of(at, 60)
    assert slot_of(at, 86400) == ANCHOR + datetime.timedelta(days=3)
