"""Background tasks (app.admin.tasks): long work started from a page runs in the scheduler's worker, in
committed batches with progress, resumes after a crash without doing anything twice, stops between
batches when cancelled, and runs with its actor's permissions."""

import datetime
import io
import time

import pytest

from app.admin import tasks
from app.core.errors import DomainError, NotAllowed
from app.extensions import db
from app.models import BackgroundTask, Bill, BillingRun, Customer
from app.policy.principal import current_principal
from app.core.column_types import utcnow
from tests.test_billing import estate  # noqa: F401 - one building, four units, three fee rules
from tests.test_imports import CUSTOMER_HEADER, xlsx

LATER = datetime.timedelta(seconds=tasks.STALE_SECONDS + 60)


def admin(app):
    return app.appbuilder.sm.find_user(username="admin")


def user(app, name):
    return app.appbuilder.sm.find_user(username=name)


class Crash(BaseException):
    """The worker process dying mid-batch (not an Exception: nothing in the worker catches it)."""


class ProbeTask(tasks.TaskKind):
    """A kind for the runner's own rules: counts to ``args["n"]``, noting who it ran as."""

    name = "probe"
    title = "probe"
    seen = []

    def permissions(self, args):
        return [("can_read", "Customer")]

    def check(self, session, args):
        if not isinstance(args.get("n"), int) or args["n"] < 0:
            raise DomainError("n must be a whole number")

    def prepare(self, session, task):
        task.cursor = task.cursor or {"next": 0}
        task.total = task.args["n"]
        return {}

    def step(self, session, task, state, batch):
        start = task.cursor["next"]
        end = min(task.total, start + batch)
        ProbeTask.seen.append((start, end, current_principal().user_id, session.info.get("actor_id")))
        task.cursor = {"next": end}
        task.done = end
        return end >= task.total


@pytest.fixture
def probe(ctx):
    tasks.register(ProbeTask())
    ProbeTask.seen = []
    yield ProbeTask
    tasks.KINDS.pop("probe", None)


def test_a_bill_run_is_done_in_committed_batches_with_progress(app, estate, now):  # noqa: F811
    task = tasks.enqueue(db.session, admin(app), "bill_run", {"period": "2026-11"}, now)
    assert (task.status, task.done, db.session.query(Bill).count()) == ("queued", 0, 0)  # nothing done yet

    assert tasks.run_pending(db.session, now, "test:1", batch=1, max_batches=2) == 0
    db.session.refresh(task)
    status = tasks.status_of(task, utcnow())
    assert (task.status, status["done"], status["total"], status["percent"]) == ("running", 2, 4, 50)
    assert db.session.query(Bill).count() == 4  # the first two units: two flats, property fee and water each
    run = db.session.get(BillingRun, task.cursor["run_id"])
    assert (run.status, run.created) == ("running", 4)

    assert tasks.run_pending(db.session, now, "test:1", batch=1) == 1  # handed back, so resumed at once
    db.session.refresh(task)
    status = tasks.status_of(task, utcnow())
    assert (status["status"], status["percent"], status["done"], status["total"]) == ("done", 100, 4, 4)
    assert status["summary"] == "2026-11 账单：新生成 5 张，已存在 0 张，2 项无法出账。"
    assert any("A1-103" in line for line in status["problems"])
    db.session.refresh(run)
    assert (run.status, run.created, run.existing) == ("done", 5, 0)
    assert db.session.query(Bill).count() == 5


def test_the_time_left_follows_the_pace_so_far(app, probe, now):
    task = tasks.enqueue(db.session, admin(app), "probe", {"n": 100}, now)
    task.status, task.total, task.done = "running", 100, 25
    task.started_at = now - datetime.timedelta(seconds=30)
    assert tasks.seconds_left(task, now) == 90
    assert tasks.status_of(task, now)["time_left"] == "2 分钟"
    task.done = 75
    assert tasks.status_of(task, now)["time_left"] == "10 秒"


def test_a_crash_mid_batch_resumes_where_the_last_batch_ended_and_bills_nobody_twice(app, estate, now, monkeypatch):  # noqa: F811
    from app.billing import bills as billing

    task = tasks.enqueue(db.session, admin(app), "bill_run", {"period": "2026-11"}, now)
    real = billing._insert_new_bills
    calls = []

    def insert_then_die(session, dialect, rows):
        calls.append(len(rows))
        inserted = real(session, dialect, rows)
        if len(calls) == 2:
            raise Crash()  # the second batch's bills are written, but never committed
        return inserted

    monkeypatch.setattr(billing, "_insert_new_bills", insert_then_die)
    with pytest.raises(Crash):
        tasks.run_pending(db.session, now, "host:1", batch=1)
    db.session.rollback()
    monkeypatch.setattr(billing, "_insert_new_bills", real)
    task = db.session.get(BackgroundTask, task.id, populate_existing=True)
    assert (task.status, task.done, db.session.query(Bill).count()) == ("running", 1, 2)

    assert tasks.run_pending(db.session, now, "host:2", batch=1) == 0  # its worker may still be alive
    assert tasks.run_pending(db.session, now + LATER, "host:2", batch=1) == 1  # it stopped beating: taken over
    task = db.session.get(BackgroundTask, task.id, populate_existing=True)
    run = db.session.get(BillingRun, task.cursor["run_id"])
    assert (task.status, task.done, task.holder) == ("done", 4, "host:2")
    assert (run.status, run.created, run.existing) == ("done", 5, 0)  # the crashed batch was not counted twice
    assert db.session.query(Bill).count() == 5
    assert db.session.query(BillingRun).count() == 1  # the resumed run goes on with the same record


def test_cancel_stops_between_batches_and_keeps_what_was_done(app, probe, now):
    task = tasks.enqueue(db.session, admin(app), "probe", {"n": 10}, now)
    tasks.run_pending(db.session, now, "", batch=3, max_batches=1)
    tasks.cancel(db.session, task, now)
    assert tasks.run_pending(db.session, now, "", batch=3) == 1
    db.session.refresh(task)
    assert (task.status, task.done, [s[:2] for s in probe.seen]) == ("cancelled", 3, [(0, 3)])
    assert tasks.status_of(task, now)["summary"] == "已取消：完成 3 / 10。"
    with pytest.raises(DomainError, match="已经结束"):
        tasks.cancel(db.session, task, now)


def test_a_cancelled_bill_run_says_so_on_its_record(app, estate, now):  # noqa: F811
    task = tasks.enqueue(db.session, admin(app), "bill_run", {"period": "2026-11"}, now)
    tasks.run_pending(db.session, now, "", batch=1, max_batches=1)
    tasks.cancel(db.session, task, now)
    tasks.run_pending(db.session, now, "", batch=1)
    run = db.session.query(BillingRun).one()
    assert (run.status, run.created, db.session.query(Bill).count()) == ("cancelled", 2, 2)


def test_a_queued_task_cancelled_never_starts(app, probe, now):
    task = tasks.enqueue(db.session, admin(app), "probe", {"n": 5}, now)
    tasks.cancel(db.session, task, now)
    assert task.status == "cancelled"
    tasks.run_pending(db.session, now, "")
    assert probe.seen == []


def test_the_task_runs_as_its_actor(app, probe, now):
    service = user(app, "service")
    task = tasks.enqueue(db.session, service, "probe", {"n": 2}, now)
    tasks.run_pending(db.session, now, "", batch=5)
    assert probe.seen == [(0, 2, service.id, service.id)]
    assert db.session.get(BackgroundTask, task.id).status == "done"


def test_without_the_permission_nothing_is_queued_and_a_permission_lost_fails_the_task(app, estate, now):  # noqa: F811
    manager = user(app, "manager")  # reads bill runs, may not start one
    with pytest.raises(NotAllowed):
        tasks.enqueue(db.session, manager, "bill_run", {"period": "2026-11"}, now)
    assert db.session.query(BackgroundTask).count() == 0
    task = tasks.enqueue(db.session, admin(app), "bill_run", {"period": "2026-11"}, now)
    task.actor_id = manager.id  # as if the actor's role lost the permission after queuing
    db.session.commit()
    tasks.run_pending(db.session, now, "")
    db.session.refresh(task)
    assert (task.status, task.problems) == ("failed", "您没有权限做这项工作。")
    assert db.session.query(Bill).count() == 0 and db.session.query(BillingRun).count() == 0


@pytest.mark.parametrize(
    "kind,args,message",
    [
        ("bill_run", {"period": "2026-13"}, "YYYY-MM"),
        ("bill_run", {}, "YYYY-MM"),
        ("no_such_kind", {}, "未知的后台任务类型"),
        ("import", {"kind": "planets", "file": "x"}, "未知的导入类型"),
        ("import", {"kind": "tags", "file": "../../etc/passwd"}, "上传的文件已不存在"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(app, ctx, now, kind, args, message):
    with pytest.raises(DomainError, match=message):
        tasks.enqueue(db.session, admin(app), kind, args, now)
    assert db.session.query(BackgroundTask).count() == 0


def test_a_failing_batch_fails_the_task_with_the_reason_and_keeps_earlier_batches(app, probe, now, monkeypatch):
    task = tasks.enqueue(db.session, admin(app), "probe", {"n": 6}, now)
    original = ProbeTask.step

    def step(self, session, task, state, batch):
        if task.cursor["next"] >= 2:
            raise RuntimeError("磁盘已满")
        return original(self, session, task, state, batch)

    monkeypatch.setattr(ProbeTask, "step", step)
    tasks.run_pending(db.session, now, "", batch=2)
    db.session.refresh(task)
    assert (task.status, task.done, task.problems) == ("failed", 2, "磁盘已满")


def test_the_page_queues_the_bill_run_and_returns_at_once(admin_client, app, estate, now):  # noqa: F811
    started = time.perf_counter()
    response = admin_client.post("/billingrunview/generate", data={"period": "2026-11"})
    assert time.perf_counter() - started < 3
    assert response.status_code == 302 and "task=" in response.headers["Location"]
    assert db.session.query(Bill).count() == 0 and db.session.query(BillingRun).count() == 0  # no work in the request
    task = db.session.query(BackgroundTask).one()
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="crm-task"' in page and "进度" in page and "剩余时间" in page and "取消" in page
    assert "js/task_progress.js" in page
    assert admin_client.get(f"/tasks/{task.id}").get_json()["status"] == "queued"

    tasks.run_pending(db.session, now, "", batch=2)
    data = admin_client.get(f"/tasks/{task.id}").get_json()
    assert (data["status"], data["percent"], data["total"]) == ("done", 100, 4)
    assert "新生成 5 张" in data["summary"] and data["url"].startswith("/billingrunview/show/")
    assert db.session.query(Bill).count() == 5


def test_only_the_one_who_started_it_sees_or_cancels_a_task(admin_client, login, app, probe, now):
    task = tasks.enqueue(db.session, admin(app), "probe", {"n": 5}, now)
    other = login("Service")
    assert other.get(f"/tasks/{task.id}").status_code == 404
    assert other.post(f"/tasks/{task.id}/cancel").status_code == 404
    assert app.test_client().get(f"/tasks/{task.id}").status_code == 401
    assert admin_client.post(f"/tasks/{task.id}/cancel").get_json()["status"] == "cancelled"


def test_a_bad_period_on_the_page_queues_nothing(admin_client, ctx):
    page = admin_client.post("/billingrunview/generate", data={"period": "2026-13"}, follow_redirects=True)
    assert "YYYY-MM" in page.get_data(as_text=True)
    assert db.session.query(BackgroundTask).count() == 0


def test_an_import_is_checked_and_written_by_the_worker_in_batches(admin_client, app, ctx, now):
    rows = [CUSTOMER_HEADER] + [[f"客户{i}", f"1381234{i:04d}"] + [None] * 10 for i in range(7)]
    response = admin_client.post(
        "/import/customers/", data={"file": (io.BytesIO(xlsx(rows)), "c.xlsx")}, content_type="multipart/form-data"
    )
    assert response.status_code == 302 and "task=" in response.headers["Location"]
    assert db.session.query(Customer).count() == 0  # nothing read or written in the request
    task = db.session.query(BackgroundTask).one()
    assert task.args["dry_run"] is False
    tasks.run_pending(db.session, now, "", batch=3, max_batches=1)
    assert db.session.query(Customer).count() == 3
    db.session.refresh(task)
    assert (task.done, task.total) == (3, 7)
    tasks.run_pending(db.session, now, "", batch=3)
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "新增 7 条" in page
    from app.models import ChangeLog

    assert db.session.query(Customer).count() == 7
    actors = {log.actor_id for log in db.session.query(ChangeLog).filter_by(resource="Customer")}
    assert actors == {admin(app).id}  # the change history names who started the import
    import os

    assert os.listdir(os.path.join(app.config["UPLOAD_FOLDER"], "imports")) == []  # the upload is removed


def test_an_import_with_a_bad_row_writes_nothing(admin_client, ctx, now):
    rows = [CUSTOMER_HEADER, ["王芳", "13812345678"] + [None] * 10, ["李雷", "bad-phone"] + [None] * 10]
    response = admin_client.post(
        "/import/customers/", data={"file": (io.BytesIO(xlsx(rows)), "c.xlsx")}, content_type="multipart/form-data"
    )
    tasks.run_pending(db.session, now, "")
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "没有导入任何数据" in page and "<td>3</td>" in page
    assert db.session.query(Customer).count() == 0


def test_the_scheduler_runs_the_tasks_every_few_seconds_without_a_ledger_row(app):
    from apscheduler.schedulers.background import BackgroundScheduler

    from app.jobs import register_jobs

    scheduler = BackgroundScheduler(timezone="UTC")
    register_jobs(scheduler, app, "host:1")
    job = scheduler.get_job("background_tasks")
    assert job is not None and job.trigger.interval.total_seconds() == app.config["CRM_TASK_SECONDS"] <= 5
    assert job.args == (app, "host:1")


def test_a_survey_send_goes_a_batch_of_customers_at_a_time_and_adds_nobody_twice(app, ctx, now):
    from app.models import OutboxMessage, Survey, SurveyRecipient
    from tests import factories
    from tests.test_surveys import survey

    for _ in range(5):
        factories.customer()
    s = survey()
    task = tasks.enqueue(db.session, user(app, "service"), "survey_send", {"survey_id": s.id}, now)
    with pytest.raises(DomainError, match="正在发送中"):  # a second click queues nothing more
        tasks.enqueue(db.session, user(app, "service"), "survey_send", {"survey_id": s.id}, now)
    tasks.run_pending(db.session, now, "", batch=2, max_batches=1)
    db.session.refresh(task)
    assert (task.done, task.total, db.session.query(SurveyRecipient).count()) == (2, 5, 2)
    assert db.session.get(Survey, s.id).status == "draft"  # not sent until every batch is done
    # the worker dies after writing a batch it never committed: its rows go, the cursor stays
    db.session.add(SurveyRecipient(survey_id=s.id, customer_id=task.cursor["after"] + 1, sent_at=now))
    db.session.rollback()
    tasks.run_pending(db.session, now, "", batch=2)
    db.session.expire_all()
    sent = db.session.get(Survey, s.id)
    assert (sent.status, sent.recipient_count, db.session.query(OutboxMessage).count()) == ("sent", 5, 5)
    assert tasks.status_of(db.session.get(BackgroundTask, task.id), now)["summary"] == "已通过发件箱发送给 5 位客户。"
    with pytest.raises(DomainError, match="已发送"):
        tasks.enqueue(db.session, user(app, "service"), "survey_send", {"survey_id": s.id}, now)
    with pytest.raises(DomainError, match="没有这份调查"):
        tasks.enqueue(db.session, user(app, "service"), "survey_send", {"survey_id": "1; drop"}, now)


def test_an_import_resumed_after_a_crash_adds_each_row_once(admin_client, app, ctx, now, monkeypatch):
    from app.admin import imports

    rows = [CUSTOMER_HEADER] + [[f"客户{i}", f"1381234{i:04d}"] + [None] * 10 for i in range(5)]
    response = admin_client.post(
        "/import/customers/", data={"file": (io.BytesIO(xlsx(rows)), "c.xlsx")}, content_type="multipart/form-data"
    )
    real, calls = imports._apply, []

    def apply_then_die(session, kind, parsed):
        calls.append(len(parsed))
        done = real(session, kind, parsed)
        if len(calls) == 2:
            raise Crash()  # the second batch is written but never committed
        return done

    monkeypatch.setattr(imports, "_apply", apply_then_die)
    with pytest.raises(Crash):
        tasks.run_pending(db.session, now, "host:1", batch=2)
    db.session.rollback()
    monkeypatch.setattr(imports, "_apply", real)
    assert db.session.query(Customer).count() == 2
    tasks.run_pending(db.session, now + LATER, "host:2", batch=2)
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "新增 5 条，更新 0 条" in page
    assert db.session.query(Customer).count() == 5
