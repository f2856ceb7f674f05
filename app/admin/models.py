"""Numbering, exports, field permissions, saved views, the change history and account security."""

from flask_appbuilder.models.sqla import Model
from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship
from sqlalchemy.sql.expression import false

from app.core.column_types import CHANGE_ACTIONS, JOB_STATUSES, OUTBOX_STATUSES, TASK_STATUSES, UTCDateTime, utcnow
from app.core.model_base import choice_column


class NumberSequence(Model):
    """Daily counters behind ticket and receipt numbers (WO202611220001)."""

    __audited__ = False  # a log of its own, a counter or machine bookkeeping: not a business record

    __tablename__ = "number_sequence"

    key = Column(String(40), primary_key=True)
    value = Column(Integer, nullable=False, default=0)


class ExportLog(Model):
    """One row per Excel export: who exported which list, with which filters, how many rows."""

    __audited__ = False  # a log of its own, a counter or machine bookkeeping: not a business record

    __tablename__ = "export_log"
    __display_relations__ = ("user",)

    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    user = relationship("User")
    resource = Column(String(50), nullable=False)
    query = Column(Text)
    rows = Column(Integer, nullable=False, default=0)

    def __str__(self):
        return f"{self.resource} {self.rows}"


class ExportJob(Model):
    """An export too large for a request: built by the scheduler, then offered to its owner only."""

    __audited__ = False  # a log of its own, a counter or machine bookkeeping: not a business record

    __tablename__ = "export_job"

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False, index=True)
    user = relationship("User")
    view = Column(String(60), nullable=False)  # the list page's endpoint, e.g. CustomerView
    title = Column(String(100))
    query = Column(Text, nullable=False, default="")
    status = choice_column(JOB_STATUSES, default="queued")
    rows = Column(Integer)
    file_name = Column(String(100))  # under instance/exports, a random name
    error = Column(Text)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    finished_at = Column(UTCDateTime)

    def __str__(self):
        return self.title or self.view


class BackgroundTask(Model):
    """Long work started from a page (a bill run, an import) and done by the scheduler in committed
    batches (app.admin.tasks): how far it got, where to resume, and what came of it."""

    __audited__ = False  # a log of its own, a counter or machine bookkeeping: not a business record

    __tablename__ = "background_task"
    __table_args__ = (Index("ix_background_task_status", "status", "id"),)

    id = Column(Integer, primary_key=True)
    kind = Column(String(40), nullable=False)
    args = Column(JSON, nullable=False, default=dict)
    actor_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), index=True)
    actor = relationship("User")
    status = choice_column(TASK_STATUSES, default="queued")
    cancel_requested = Column(Boolean, nullable=False, default=False, server_default=false())
    done = Column(Integer, nullable=False, default=0)
    total = Column(Integer)
    cursor = Column(JSON)  # where the next batch starts; committed with the batch before it
    result = Column(JSON)
    problem_count = Column(Integer, nullable=False, default=0)
    problems = Column(Text)  # one line each
    holder = Column(String(120))  # host:pid of the scheduler working on it
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    started_at = Column(UTCDateTime)
    heartbeat_at = Column(UTCDateTime)  # every batch; a running task whose heartbeat is old is taken over
    finished_at = Column(UTCDateTime)

    def __str__(self):
        return f"{self.kind} #{self.id}"


class FieldPermission(Model):
    """A role's access to one field of one model; no row means editable."""

    __audited__ = True

    __tablename__ = "field_permission"
    __table_args__ = (UniqueConstraint("role_id", "resource", "field", name="uq_field_permission"),)

    id = Column(Integer, primary_key=True)
    role_id = Column(Integer, ForeignKey("ab_role.id", ondelete="CASCADE"), nullable=False, index=True)
    role = relationship("Role")
    resource = Column(String(50), nullable=False)
    field = Column(String(50), nullable=False)
    level = Column(String(10), nullable=False)

    def __str__(self):
        return f"{self.resource}.{self.field}: {self.level}"


class SavedListView(Model):
    """A named list view (filters, search, order) a user saved, optionally shared with a role."""

    __audited__ = False  # a log of its own, a counter or machine bookkeeping: not a business record

    __tablename__ = "saved_list_view"
    __table_args__ = (UniqueConstraint("owner_id", "view", "name", name="uq_saved_list_view"),)

    id = Column(Integer, primary_key=True)
    name = Column(String(60), nullable=False)
    view = Column(String(60), nullable=False, index=True)  # the list page's endpoint, e.g. CustomerView
    query = Column(Text, nullable=False, default="")
    owner_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False)
    owner = relationship("User")
    shared_role_id = Column(Integer, ForeignKey("ab_role.id", ondelete="SET NULL"))
    shared_role = relationship("Role")
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)

    def __str__(self):
        return self.name or ""


class ChangeLog(Model):
    """操作日志: who created, changed or deleted which record, when, and what changed (field: old → new).

    Written by app.policy.audit after every flush, for every path (pages, API, batch edit, import, jobs).
    """

    __audited__ = False  # a log of its own, a counter or machine bookkeeping: not a business record

    __tablename__ = "change_log"
    __table_args__ = (Index("ix_change_log_record", "resource", "record_id"),)
    __display_relations__ = ("actor",)

    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    actor_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    actor = relationship("User")
    resource = Column(String(40), nullable=False)
    record_id = Column(Integer, nullable=False)
    action = choice_column(CHANGE_ACTIONS, default="update")
    summary = Column(String(200))  # what the record was called at the time
    ip = Column(String(45))  # where the request came from (none for jobs)
    changes = Column(Text)  # JSON: {field: [old, new]}; collections: {field: {"added": [...], "removed": [...]}}

    def __str__(self):
        return f"{self.resource}#{self.record_id}"


class AccountSecurity(Model):
    """Per account: consecutive failed logins, a lock, and the session version (bumped on logout,
    password change or disabling, which ends every session issued before)."""

    __audited__ = False  # secrets and sign-in bookkeeping are never copied into the change history

    __tablename__ = "account_security"
    __display_relations__ = ("user",)

    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True)
    user = relationship("User")
    failed_logins = Column(Integer, nullable=False, default=0)
    locked_until = Column(UTCDateTime)
    session_version = Column(Integer, nullable=False, default=0)
    last_failure_at = Column(UTCDateTime)
    # set when an admin creates the account or resets its password: the owner chooses a new one first
    must_change_password = Column(Boolean, nullable=False, default=False, server_default=false())

    @property
    def id(self):  # list pages and their actions address records by id
        return self.user_id

    def __str__(self):
        return str(self.user) if self.user else str(self.user_id)


class PasswordResetToken(Model):
    """A forgotten-password link: only the SHA-256 of its random token is kept. It works until
    ``expires_at``, once (``used_at``); any password change of the account deletes the unused ones."""

    __audited__ = False  # secrets and sign-in bookkeeping are never copied into the change history

    __tablename__ = "password_reset_token"

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False, index=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = Column(UTCDateTime, nullable=False)
    used_at = Column(UTCDateTime)

    def __str__(self):
        return str(self.user_id)


class AccountMail(Model):
    """Mail about a staff member's own account (a password-reset link), for that person only.

    Kept apart from the customer outbox on purpose: no page, API, export or timeline lists it.
    The delivery job sends it by email; the body (the secret) is erased once it is sent, has
    failed or its link has expired.
    """

    __audited__ = False  # secrets and sign-in bookkeeping are never copied into the change history

    __tablename__ = "account_mail"
    __table_args__ = (Index("ix_account_mail_status_next", "status", "next_attempt_at"),)

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False, index=True)
    address = Column(String(200), nullable=False)
    subject = Column(String(200), nullable=False)
    body = Column(Text, nullable=False, default="")
    status = choice_column(OUTBOX_STATUSES, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime, nullable=False, default=utcnow)
    claimed_at = Column(UTCDateTime)
    sent_at = Column(UTCDateTime)
    expires_at = Column(UTCDateTime, nullable=False)  # not sent after this: the link inside is dead
    error = Column(String(500))  # the last failure (never the body)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)

    def __str__(self):
        return f"{self.user_id} {self.status}"


class LoginThrottle(Model):
    """Login attempts per client address and time window, shared by every worker process."""

    __audited__ = False  # secrets and sign-in bookkeeping are never copied into the change history

    __tablename__ = "login_throttle"

    ip = Column(String(45), primary_key=True)
    window_start = Column(UTCDateTime, primary_key=True)
    attempts = Column(Integer, nullable=False, default=0)

    def __str__(self):
        return f"{self.ip} {self.attempts}"


class LoginNameLock(Model):
    """Failures and the lock of a sign-in name no account has, kept like an account's
    (AccountSecurity), so that the login reply does not tell which names exist. Only a hash of
    the name is stored."""

    __tablename__ = "login_name_lock"
    __audited__ = False  # secrets and sign-in bookkeeping are never copied into the change history

    name_hash = Column(String(64), primary_key=True)
    failed_logins = Column(Integer, nullable=False, default=0)
    locked_until = Column(UTCDateTime)
    last_failure_at = Column(UTCDateTime, index=True)


class JobRun(Model):
    """One scheduled run of a job: the claim that only one scheduler runs it, and where it ran.

    The unique (job, slot) key is taken before the work starts: a second scheduler reaching the
    same slot finds it taken and skips. ``slot`` is the scheduled time floored to the job's period.
    """

    __audited__ = True

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job", "slot", name="uq_job_run_slot"),)

    id = Column(Integer, primary_key=True)
    job = Column(String(60), nullable=False)
    slot = Column(UTCDateTime, nullable=False)
    host = Column(String(100))
    pid = Column(Integer)
    started_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    finished_at = Column(UTCDateTime)
    outcome = Column(String(200))  # what the job returned, or the error

    def __str__(self):
        return f"{self.job} {self.slot}"
