"""Low-code administration pages: the field-permission matrix."""

from types import SimpleNamespace

from flask import abort, flash, g, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.actions import action
from flask_babel import lazy_gettext as _

from app import models
from app.admin.imports import SPECS, queue_import, template_workbook, upload_folder
from app.core import column_types as types
from app.core.clock import local_today
from app.core.column_types import utcnow
from app.core.errors import DomainError
from app.extensions import db
from app.core.labels import COLUMN_LABELS, MODEL_LABELS, resource_label
from app.core.people import person_name
from app.models import Notification
from app.notices.notify import inbox_page, mark_read, unread_count
from app.policy.field_permissions import LEVEL_LABELS, LEVELS, matrix_levels, may_read_field, save_matrix
from app.policy.principal import as_link_holder, current_principal
from app.policy.permissions import (
    RESOURCE_ACCOUNT_SECURITY,
    RESOURCE_CHANGE_LOG,
    RESOURCE_FIELD_PERMISSION,
    RESOURCE_IMPORT,
    RESOURCE_PERFORMANCE,
    ROLE_LABELS,
)
from app.web.interface import CrmInterface
from app.web.model_view import CrmView
from app.admin.tasks import status_of
from app.admin.tasks import task_for
from app.tickets.ratings import RatingLinkError, record_rating, ticket_for_token
from app.core.clock import local_midnight
from app.core.typed_dates import TypedDateError, parse_typed_date
from app.reporting.performance import staff_performance
from app.models import ExportJob
from app.admin.tasks import cancel
from app.policy import accounts
from app.policy.audit import decoded, describe, history
from app.policy.accounts import unlock


class FieldPermissionView(BaseView):
    """One model at a time: fields down, roles across; saved in one go."""

    route_base = "/fieldpermissions"
    default_view = "matrix"
    class_permission_name = RESOURCE_FIELD_PERMISSION
    method_permission_name = {"matrix": "edit"}
    resources = {}  # resource name -> ordered field names (filled by register_views)

    def _roles(self):
        sm = self.appbuilder.sm
        return [r for r in sm.get_all_roles() if r.name not in (sm.auth_role_admin, sm.auth_role_public)]

    @expose("/", methods=["GET", "POST"])
    @has_access
    def matrix(self):
        resource = request.values.get("model") or next(iter(self.resources))
        if resource not in self.resources:
            abort(404)
        fields = self.resources[resource]
        roles = self._roles()
        if request.method == "POST":
            matrix = {
                (role.id, field): request.form.get(f"level-{role.id}-{field}", "editable")
                for role in roles
                for field in fields
            }
            try:
                save_matrix(db.session, resource, matrix, set(fields), {r.id for r in roles})
            except DomainError as error:
                db.session.rollback()
                flash(str(error), "danger")
            else:
                flash(str(_("Field permissions saved.")), "success")
            return redirect(url_for(".matrix", model=resource))
        current = matrix_levels(db.session, resource)
        return self.render_template(
            "crm/field_permissions.html",
            resources=[(name, MODEL_LABELS.get(name, name)) for name in self.resources],
            current=resource,
            fields=[(f, COLUMN_LABELS.get(f, f)) for f in fields],
            roles=roles,
            role_labels=ROLE_LABELS,
            levels=[(level, LEVEL_LABELS[level]) for level in LEVELS],
            matrix=current,
        )


class ImportView(BaseView):
    """Excel import of customers, units and tags: template, dry run, then all or nothing."""

    route_base = "/import"
    default_view = "page"
    class_permission_name = RESOURCE_IMPORT
    method_permission_name = {"page": "import", "template": "import"}

    def _spec(self, kind):
        spec = SPECS.get(kind)
        if spec is None:
            abort(404)
        sm = self.appbuilder.sm
        # importing creates and updates records: the role must be allowed both on that model
        if not (sm.has_access("can_create", spec["resource"]) and sm.has_access("can_edit", spec["resource"])):
            abort(403)
        return spec

    @expose("/<kind>/template")
    @has_access
    def template(self, kind):
        spec = self._spec(kind)
        from flask import Response

        name = f"{spec['title']}-import-template.xlsx"
        response = Response(
            template_workbook(kind), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        from urllib.parse import quote

        response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
        return response

    @expose("/<kind>/", methods=["GET", "POST"])
    @has_access
    def page(self, kind):
        """The upload is kept and checked (then imported) by the scheduler as a background task;
        the page shows its progress, then the report (?task=<id>)."""
        from flask import g

        self._spec(kind)  # an unknown kind is a 404
        report = task = None
        if request.method == "POST":
            upload = request.files.get("file")
            try:
                task = queue_import(
                    db.session,
                    g.user,
                    kind,
                    upload.read() if upload else b"",
                    request.form.get("dry_run"),
                    upload_folder(),
                    utcnow(),
                )
                return redirect(url_for(".page", kind=kind, task=task.id))
            except DomainError as error:
                db.session.rollback()
                report = SimpleNamespace(summary=str(error), errors=[])
        elif request.args.get("task", "").isdigit():
            task = task_for(db.session, int(request.args["task"]), g.user.id)
            if task is not None and task.status in ("done", "failed", "cancelled"):
                report = _import_report(task)
        kinds = [(key, SPECS[key]["title"]) for key in SPECS]
        return self.render_template(
            "crm/import.html", title=_("Excel import"), kind=kind, kinds=kinds, report=report, task=task
        )


def _import_report(task):

    status = status_of(task, utcnow())
    errors = [tuple(e) for e in (task.result or {}).get("errors", [])]
    lines = [] if errors else status["problems"]
    return SimpleNamespace(
        summary=" ".join(filter(None, [status["summary"]] + lines)) or status["status_label"], errors=errors
    )


class RatingView(BaseView):
    """The customer's personal rating page: no login, a signed link that expires and works once."""

    route_base = "/rate"
    default_view = "rate"

    @expose("/<token>", methods=["GET", "POST"])
    @as_link_holder
    def rate(self, token):
        from flask import current_app

        config = current_app.config
        status = 200
        try:
            ticket = ticket_for_token(db.session, config["SECRET_KEY"], token, config["CRM_RATING_LINK_DAYS"])
        except RatingLinkError as error:
            ticket, message, level, status = None, str(error), "warning", 400
        else:
            message, level = None, "info"
            if request.method == "POST":
                try:
                    record_rating(
                        db.session, ticket, request.form.get("stars"), request.form.get("comment"), "link", utcnow()
                    )
                except DomainError as error:
                    db.session.rollback()
                    message, level = str(error), "danger"
                else:
                    ticket, message, level = None, str(_("Thank you for your rating!")), "success"
        from flask import render_template

        html = render_template(
            "crm/rate.html", ticket=ticket, message=message, level=level, app_name=self.appbuilder.app_name
        )
        return html, status


class PerformanceView(BaseView):
    """Staff performance for a period (default: the last 30 days, in local dates)."""

    route_base = "/performance"
    default_view = "report"
    class_permission_name = RESOURCE_PERFORMANCE
    method_permission_name = {"report": "read"}

    @expose("/")
    @has_access
    def report(self):
        import datetime

        today = local_today()

        def day(name, default):
            try:
                return parse_typed_date(request.args.get(name, ""))
            except TypedDateError:
                return default

        start, end = day("start", today - datetime.timedelta(days=30)), day("end", today)
        if end < start:
            start, end = end, start
        begin, finish = local_midnight(start), local_midnight(end + datetime.timedelta(days=1))
        people, departments = staff_performance(
            db.session, begin, finish, may_read_field(current_principal(), "TicketRating", "stars")
        )
        return self.render_template(
            "crm/performance.html", people=people, departments=departments, start=start.isoformat(), end=end.isoformat()
        )


class InboxView(BaseView):
    """我的消息: a signed-in user's own notices. Everyone has an inbox, so only sign-in is checked."""

    route_base = "/inbox"
    default_view = "index"
    page_size = 30

    @staticmethod
    def _user_id():
        user = getattr(g, "user", None)
        return user.id if getattr(user, "is_authenticated", False) else None

    @expose("/")
    def index(self):
        user_id = self._user_id()
        if user_id is None:
            return redirect(self.appbuilder.get_url_for_login_with(request.full_path))
        page = max(request.args.get("page", 1, type=int) or 1, 1)
        rows, more = inbox_page(db.session, user_id, page, self.page_size, bool(request.args.get("unread")))
        return self.render_template(
            "crm/inbox.html",
            notifications=rows,
            page=page,
            more=more,
            unread_only=bool(request.args.get("unread")),
        )

    @expose("/unread")
    def unread(self):
        user_id = self._user_id()
        if user_id is None:
            return jsonify(count=0), 401
        return jsonify(count=unread_count(db.session, user_id))

    @expose("/read/<int:notification_id>", methods=["POST"])
    def read(self, notification_id):
        user_id = self._user_id()
        if user_id is None:
            abort(401)
        notification = db.session.get(Notification, notification_id)
        if notification is None or notification.user_id != user_id:
            abort(404)
        link = notification.link
        mark_read(db.session, user_id, utcnow(), notification_id)
        # only our own paths: a stored link never sends anyone to another site
        if link and link.startswith("/") and not link.startswith("//") and request.form.get("open"):
            return redirect(link)
        return redirect(url_for(".index"))

    @expose("/read-all", methods=["POST"])
    def read_all(self):
        user_id = self._user_id()
        if user_id is None:
            abort(401)
        count = mark_read(db.session, user_id, utcnow())
        flash(str(_("%(count)s messages marked read.", count=count)), "success")
        return redirect(url_for(".index"))


class ExportDownloadView(BaseView):
    """A finished background export, for the person who asked for it only."""

    route_base = "/exports"

    @expose("/<int:job_id>")
    def download(self, job_id):
        import os

        from flask import current_app, g, send_file

        user = getattr(g, "user", None)
        if not getattr(user, "is_authenticated", False):
            return redirect(self.appbuilder.get_url_for_login_with(request.full_path))
        job = db.session.get(ExportJob, job_id)
        if job is None or job.user_id != user.id or job.status != "done" or not job.file_name:
            abort(404)
        path = os.path.join(current_app.config["EXPORT_FOLDER"], job.file_name)
        if not os.path.isfile(path):
            abort(404)
        stamp = job.finished_at.strftime("%Y%m%d-%H%M") if job.finished_at else ""
        return send_file(
            path,
            as_attachment=True,
            download_name=f"{job.title}-{stamp}.xlsx",
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )


class TaskView(BaseView):
    """A background task's progress (JSON for the progress bar) and its cancel, for whoever started it."""

    route_base = "/tasks"

    def _task(self, task_id):
        from flask import g

        user = getattr(g, "user", None)
        if not getattr(user, "is_authenticated", False):
            abort(401)
        task = task_for(db.session, task_id, user.id)
        if task is None:
            abort(404)
        return task

    @expose("/<int:task_id>")
    def status(self, task_id):
        from flask import jsonify

        response = jsonify(status_of(self._task(task_id), utcnow(), url_for))
        response.headers["Cache-Control"] = "no-store"
        return response

    @expose("/<int:task_id>/cancel", methods=["POST"])
    def cancel(self, task_id):
        from flask import jsonify

        task = self._task(task_id)
        try:
            cancel(db.session, task, utcnow())
        except DomainError as error:
            return jsonify({"error": str(error)}), 409
        return jsonify(status_of(task, utcnow(), url_for))


class PasswordResetView(BaseView):
    """Forgotten password: an emailed, expiring, single-use link; the same answer whether or not the
    account exists."""

    route_base = "/forgot"

    @expose("/", methods=["GET", "POST"])
    def request_reset(self):
        from flask import current_app

        if request.method == "POST":
            now = utcnow()
            config = current_app.config
            if accounts.allow_attempt(
                db.session,
                request.remote_addr or "unknown",
                now,
                config["CRM_LOGIN_RATE_LIMIT"],
                config["CRM_LOGIN_RATE_WINDOW_MINUTES"],
            ):
                name = (request.form.get("username") or "").strip()
                sm = self.appbuilder.sm
                user = (sm.find_user(username=name) or sm.find_user(email=name)) if name else None
                accounts.request_password_reset(
                    db.session, user, config["CRM_BASE_URL"], now, config["CRM_PASSWORD_RESET_MINUTES"]
                )
            flash(
                str(_("If the account exists and has an email address, a link to reset the password is on its way.")),
                "info",
            )
            return redirect(self.appbuilder.get_url_for_login)
        return self.render_template("crm/forgot_password.html")

    @expose("/reset/<token>", methods=["GET", "POST"])
    def reset(self, token):

        now = utcnow()
        user = accounts.user_for_reset_token(db.session, token, now)
        invalid = _("This link is not valid or has expired; ask for a new one.")
        if user is None:
            flash(str(invalid), "warning")
            return redirect(url_for(".request_reset"))
        if request.method == "POST":
            password = request.form.get("password") or ""
            problem = accounts.password_problem(password, [user.username, user.email])
            if password != request.form.get("conf_password"):
                problem = _("The two passwords differ.")
            if problem:
                flash(str(problem), "danger")
            elif accounts.redeem_reset_token(db.session, token, now) is None:  # spent meanwhile
                db.session.rollback()
                flash(str(invalid), "warning")
                return redirect(url_for(".request_reset"))
            else:
                self.appbuilder.sm.reset_password(user.id, password)  # commits the spent link with it
                flash(str(_("Your password has been changed; sign in with it.")), "success")
                return redirect(self.appbuilder.get_url_for_login)
        return self.render_template("crm/reset_password.html", token=token)


class ChangeLogView(CrmView):
    """操作日志: every change to every record, newest first; one record's history from its page."""

    datamodel = CrmInterface(models.ChangeLog)
    class_permission_name = RESOURCE_CHANGE_LOG
    base_permissions = ["can_read", "can_export"]
    list_columns = ["at", "actor", "action", "resource", "record_id", "summary", "ip"]
    show_columns = list_columns + ["changes"]
    search_columns = ["at", "actor", "action", "resource", "record_id", "summary", "ip"]
    order_columns = ["at", "resource", "record_id"]
    base_order = ("id", "desc")
    formatters_columns = {"resource": resource_label}

    @expose("/record/<resource>/<int:record_id>")
    @has_access
    def record(self, resource, record_id):

        entries = [(entry, decoded(entry)) for entry in history(db.session, resource, record_id)]
        return self.render_template(
            "crm/change_history.html",
            entries=entries,
            resource=resource,
            record_id=record_id,
            model_label=MODEL_LABELS.get(resource, resource),
            labels=COLUMN_LABELS,
            choices=types.CHANGE_ACTIONS,
            person=person_name,
            describe=describe,
        )


class AccountSecurityView(CrmView):
    """账号安全: failed logins and locks; an admin unlocks an account."""

    datamodel = CrmInterface(models.AccountSecurity)
    class_permission_name = RESOURCE_ACCOUNT_SECURITY
    base_permissions = ["can_read", "can_edit"]
    list_columns = ["user", "failed_logins", "last_failure_at", "locked_until"]
    show_columns = list_columns
    search_columns = ["user", "locked_until"]
    order_columns = ["failed_logins", "last_failure_at", "locked_until"]
    base_order = ("last_failure_at", "desc")

    @action("unlock", _("Unlock"), _("Unlock the selected accounts?"), "fa-unlock", multiple=True, single=True)
    def unlock(self, items):

        items = items if isinstance(items, list) else [items]
        for item in items:
            unlock(db.session, item.user_id)
        flash(str(_("%(count)s accounts unlocked.", count=len(items))), "success")
        return redirect(url_for(".list"))
