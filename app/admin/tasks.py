"""Background tasks: long work started from a page (a month's bill run, an Excel import) is queued
here and done by the scheduler's worker, never in the request.

- ``enqueue(session, actor, kind, args, now)`` checks the arguments and the actor's permission (a
  clear message, nothing queued, when either is wrong) and stores the task; the request returns
  at once with the task's id, and the page that started it shows its progress
  (``status_of``: done / total, time left, the result and the problems when it ends).
- ``run_pending(session, now)`` (the ``background_tasks`` job, every few seconds) claims a queued
  task, or a running one whose worker stopped beating, and works through it in batches. Each batch
  commits its writes together with the task's cursor and counts, so a task killed half-way resumes
  where its last batch ended and nothing is done twice; the per-item work is keyed too (a bill by
  unit, period and fee type; an imported row by its natural key).
- A cancel (``cancel``) is honoured between batches: what the finished batches did stays.
- The task runs as its actor (``acting_as``): their permissions, row scope and field levels apply,
  checked again when it runs (a permission taken away since it was queued fails the task).

A kind is a ``TaskKind`` registered in KINDS by its domain module (app.billing.bills, app.admin.imports,
app.care.surveys); app.jobs imports them all.
"""

import datetime

from flask_babel import lazy_gettext as _
from sqlalchemy import or_, select, update

from app.core.column_types import TASK_STATUSES, utcnow
from app.core.errors import DomainError, NotAllowed
from app.models import BackgroundTask
from app.models import BackgroundTask as Task
from app.policy.principal import acting_as, principal_for

STALE_SECONDS = 120  # a running task whose worker has not beaten for this long is taken over
DEFAULT_BATCH = 2000
MAX_PROBLEMS_SHOWN = 50
FINISHED = ("done", "failed", "cancelled")

KINDS = {}


class TaskKind:
    """One kind of background task. Subclasses say who may start it and how it is done in batches."""

    name = ""
    title = ""

    def permissions(self, args):
        """(action, resource) pairs the actor needs, when queued and when run."""
        return []

    def check(self, session, args):
        """Refuse bad arguments with a DomainError (in the request: cheap checks only)."""

    def prepare(self, session, task):
        """Once per worker run of the task, before its batches (may write: committed with the task).
        Returns the state the batches share (what is read once: rules, the parsed file)."""
        return {}

    def step(self, session, task, state, batch):
        """Do the next ``batch`` items from ``task.cursor``; advance the cursor and ``task.done``
        (not committed here: the runner commits the batch and the cursor together). True when finished."""
        raise NotImplementedError

    def ended(self, session, task, state):
        """After the task ended (done, failed or cancelled): close what it opened."""

    def summary(self, task):
        """The sentence the page shows when the task ended."""
        return ""

    def link(self, task):
        """(endpoint, values) of the page with the full result, or None."""
        return None


def kinds():
    """Every kind, by name: their domain modules register them when imported, and the registry of
    jobs (app.jobs.TASK_KIND_MODULES) imports them all."""
    return KINDS


def register(kind):
    KINDS[kind.name] = kind
    return kind


def _kind(name):
    kind = kinds().get(name)
    if kind is None:
        raise DomainError(_("Unknown kind of background task: %(kind)s", kind=name))
    return kind


def _require(session, actor, kind, args):

    if actor is None:
        raise NotAllowed(_("Only a signed-in user can start this work."))
    principal = principal_for(session, actor)
    if not all(principal.may(action, resource) for action, resource in kind.permissions(args)):
        raise NotAllowed(_("You may not do this."))
    return principal


def enqueue(session, actor, kind, args, now):
    """Queue ``kind`` with ``args`` (JSON) for ``actor`` (a User). Checks first; commits; returns the task."""

    handler = _kind(kind)
    if not isinstance(args, dict):
        raise DomainError(_("The task's arguments are not valid."))
    _require(session, actor, handler, args)
    handler.check(session, args)
    task = BackgroundTask(kind=kind, args=args, actor_id=actor.id, status="queued", done=0, created_at=now)
    session.add(task)
    session.commit()
    return task


def cancel(session, task, now):
    """Stop the task: a queued one at once, a running one between its batches."""
    if task.status in FINISHED:
        raise DomainError(_("This work has already ended."))
    if task.status == "queued":
        claimed = session.execute(
            update(type(task))
            .where(type(task).id == task.id, type(task).status == "queued")
            .values(status="cancelled", cancel_requested=True, finished_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.commit()
        if claimed:
            session.refresh(task)
            return task
    session.execute(
        update(type(task))
        .where(type(task).id == task.id)
        .values(cancel_requested=True)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(task)
    return task


def _claim(session, task_id, now, holder):

    stale = now - datetime.timedelta(seconds=STALE_SECONDS)
    claimed = session.execute(
        update(Task)
        .where(
            Task.id == task_id,
            or_(
                Task.status == "queued",
                (Task.status == "running") & (or_(Task.heartbeat_at.is_(None), Task.heartbeat_at < stale)),
            ),
        )
        .values(status="running", holder=holder[:120], heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return claimed == 1


def claimable(session, now):
    """Ids of the tasks a worker may take now: queued, or running with a stopped worker. Oldest first."""

    stale = now - datetime.timedelta(seconds=STALE_SECONDS)
    return (
        session.execute(
            select(Task.id)
            .where(
                or_(
                    Task.status == "queued",
                    (Task.status == "running") & (or_(Task.heartbeat_at.is_(None), Task.heartbeat_at < stale)),
                )
            )
            .order_by(Task.id)
        )
        .scalars()
        .all()
    )


def run_pending(session, now, holder="", batch=None, max_batches=None):
    """Work through the claimable tasks (the scheduler's job). With ``max_batches``, stop after that
    many batches in all and hand the task back (it resumes on the next run). Returns tasks ended."""
    ended = 0
    budget = [max_batches]
    for task_id in claimable(session, now):
        if budget[0] is not None and budget[0] <= 0:
            break
        if not _claim(session, task_id, now, holder):
            continue  # another worker took it
        ended += _run(session, task_id, batch or DEFAULT_BATCH, budget)
    return ended


def _finish(session, task, handler, state, status, problem=None):
    if problem:
        _add_problems(task, [problem])
    task.status, task.finished_at, task.heartbeat_at = status, utcnow(), None
    try:
        handler.ended(session, task, state)
    except Exception as error:  # noqa: BLE001 — the task's outcome stands; the clean-up problem is told
        _add_problems(task, [str(error)])
    session.commit()
    return 1


def _add_problems(task, lines):
    lines = [str(line) for line in lines if line]
    if not lines:
        return
    task.problem_count = (task.problem_count or 0) + len(lines)
    task.problems = "\n".join(filter(None, [task.problems] + lines))


def add_problems(task, lines):
    """Problems found on items (a unit that cannot be billed): told on the page when the task ends."""
    _add_problems(task, lines)


def _run(session, task_id, batch, budget):
    from flask_appbuilder.security.sqla.models import User

    task = session.get(Task, task_id, populate_existing=True)
    handler = kinds().get(task.kind)
    if handler is None:
        return _finish(
            session, task, TaskKind(), {}, "failed", str(_("Unknown kind of background task: %(kind)s", kind=task.kind))
        )
    actor = session.get(User, task.actor_id) if task.actor_id else None
    try:
        principal = _require(session, actor, handler, task.args or {})
    except DomainError as error:
        return _finish(session, task, handler, {}, "failed", str(error))
    previous_actor = session.info.get("actor_id")
    session.info["actor_id"] = task.actor_id
    state = {}
    try:
        with acting_as(principal):
            task.started_at = task.started_at or utcnow()
            state = handler.prepare(session, task)
            session.commit()
            while True:
                cancelled = session.execute(select(Task.cancel_requested).where(Task.id == task_id)).scalar()
                if cancelled:
                    return _finish(session, task, handler, state, "cancelled")
                if budget[0] is not None and budget[0] <= 0:
                    task.heartbeat_at = None  # handed back: the next run resumes it
                    session.commit()
                    return 0
                finished = handler.step(session, task, state, batch)
                task.heartbeat_at = utcnow()
                if budget[0] is not None:
                    budget[0] -= 1
                if finished:
                    return _finish(session, task, handler, state, "done")
                session.commit()  # the batch's work, the cursor and the counts: all or none
    except Exception as error:  # noqa: BLE001 — the task fails with the reason; the worker goes on
        session.rollback()
        task = session.get(Task, task_id, populate_existing=True)
        return _finish(session, task, handler, state, "failed", str(error) or type(error).__name__)
    finally:
        session.info["actor_id"] = previous_actor


def task_for(session, task_id, user_id):
    """The task, for the user who started it only (else None: nobody learns another's work)."""

    task = session.get(BackgroundTask, task_id)
    if task is None or user_id is None or task.actor_id != user_id:
        return None
    return task


def seconds_left(task, now):
    """Time left, from the pace so far (None until there is a pace to go by)."""
    if task.status != "running" or not task.total or not task.done or task.started_at is None:
        return None
    elapsed = (now - task.started_at).total_seconds()
    if elapsed <= 0:
        return None
    return max(0, round(elapsed * (task.total - task.done) / task.done))


def status_of(task, now, url_for=None):
    """What the progress bar shows (JSON): status, done / total, percent, time left; at the end the
    summary, the problems (the first ones) and the link to the full result."""

    handler = kinds().get(task.kind) or TaskKind()
    total = task.total
    if task.status == "done":
        percent = 100
    elif total:
        percent = min(100, int(100 * (task.done or 0) / total))
    else:
        percent = 0
    left = seconds_left(task, now)
    data = {
        "id": task.id,
        "kind": task.kind,
        "title": str(handler.title),
        "status": task.status,
        "status_label": TASK_STATUSES.label(task.status),
        "done": task.done or 0,
        "total": total,
        "percent": percent,
        "seconds_left": left,
        "time_left": duration_label(left),
        "cancel_requested": bool(task.cancel_requested),
        "finished": task.status in FINISHED,
        "summary": "",
        "problems": [],
        "problem_count": task.problem_count or 0,
        "url": None,
    }
    if task.status in FINISHED:
        data["summary"] = str(handler.summary(task) or "")
        if task.status == "cancelled":
            data["summary"] = " ".join(
                filter(
                    None,
                    [
                        str(_("Cancelled after %(done)s of %(total)s.", done=task.done or 0, total=total or 0)),
                        data["summary"],
                    ],
                )
            )
        data["problems"] = (task.problems or "").splitlines()[:MAX_PROBLEMS_SHOWN]
        link = handler.link(task)
        if link and url_for is not None:
            data["url"] = url_for(link[0], **link[1])
    return data


def duration_label(seconds):
    """About how long: 45 秒, 3 分钟, 1 小时 5 分钟."""
    if seconds is None:
        return ""
    if seconds < 60:
        return str(_("%(n)s s", n=int(seconds)))
    minutes = round(seconds / 60)
    if minutes < 60:
        return str(_("%(n)s min", n=minutes))
    return str(_("%(h)s h %(m)s min", h=minutes // 60, m=minutes % 60))
