"""Broadcast pages: compose with a segment, preview, schedule, and the send log; the tracked link
and the gateways' delivery reports."""

from flask import abort, current_app, flash, g, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.fields import QuerySelectField
from flask_babel import LazyString
from flask_babel import lazy_gettext as _
from wtforms import BooleanField

from app import models
from app.core.clock import local_today
from app.core.column_types import utcnow
from app.core.errors import DomainError
from app.extensions import csrf, db
from app.core.typed_dates import TypedDateError, parse_typed_datetime
from app.notices import broadcasts
from app.notices.notify import variables_help
from app.policy.permissions import (
    RESOURCE_BROADCAST,
    RESOURCE_MESSAGE_TEMPLATE,
    RESOURCE_OUTBOX,
    VIEW_METHOD_PERMISSIONS,
)
from app.web.interface import CrmInterface
from app.web.model_view import CrmModelView, CrmView
from app.web.saved_views import views_for
from app.notices.notify import check_template
from app.notices.notify import retry_failed


def _my_customer_views():

    return views_for(db.session, g.user.id, [role.id for role in g.user.roles], "CustomerView")


def _check_link(url):
    if url and not url.startswith(("http://", "https://")):
        raise DomainError(_("The link must start with http:// or https://."), field="link_url")


class BroadcastView(CrmModelView):
    datamodel = CrmInterface(models.Broadcast)
    class_permission_name = RESOURCE_BROADCAST
    method_permission_name = VIEW_METHOD_PERMISSIONS
    list_columns = ["title", "status", "scheduled_at", "recipient_count", "queued_at", "created_by"]
    add_columns = edit_columns = [
        "title",
        "buildings",
        "tags",
        "customer_type",
        "min_arrears",
        "saved_view",
        "portal_residents",
        "subject",
        "body",
        "link_url",
    ]
    show_columns = list_columns + [
        "buildings",
        "tags",
        "customer_type",
        "min_arrears",
        "saved_view",
        "portal_residents",
        "subject",
        "body",
        "link_url",
    ]
    # only the saved customer lists this user may use: their own and those shared with their roles
    add_form_extra_fields = edit_form_extra_fields = {
        "saved_view": QuerySelectField(
            _("Saved customer list"),
            query_func=_my_customer_views,
            get_pk_func=lambda view: view.id,
            allow_blank=True,
            blank_text="—",
        ),
        "portal_residents": BooleanField(_("Portal residents only"), default=False),
    }
    search_columns = ["title", "status", "scheduled_at"]
    order_columns = ["title", "status", "scheduled_at", "queued_at"]
    base_order = ("created_at", "desc")
    description_columns = {
        "buildings": _("Customers living in any of these buildings (empty: all buildings)."),
        "tags": _("Customers with any of these tags (empty: no tag condition)."),
        "min_arrears": _("Only customers owing at least this much on overdue bills."),
        "saved_view": _("Only the customers a saved customer list shows (its filters and search)."),
        "portal_residents": _("Only residents who have signed in to the resident portal."),
        "body": _("Variables: {customer_name}, {link} (the tracked link below)."),
        "link_url": _("Optional: where {link} leads; each recipient's clicks are counted."),
    }

    def check_record(self, item):
        if item.id is not None and item.status != "draft":
            raise DomainError(_("Only a draft can be changed; this broadcast has been scheduled."))
        broadcasts.check_message(item.subject, item.body)
        _check_link(item.link_url)

    def pre_add(self, item):
        super().pre_add(item)
        item.status = "draft"
        item.created_by_id = g.user.id

    def post_add_redirect(self):
        # the id of this request's new broadcast (the view object is shared by every request)
        added = g.pop("crm_added_broadcast", None)
        return redirect(url_for(".report", pk=added)) if added else super().post_add_redirect()

    def post_add(self, item):
        g.crm_added_broadcast = item.id

    @action("open_report", _("Preview and send log"), icon="fa-chart-bar", multiple=False, single=True)
    def open_report(self, item):
        return redirect(url_for(".report", pk=item.id))

    @expose("/report/<int:pk>")
    @has_access
    def report(self, pk):
        broadcast = db.session.get(models.Broadcast, pk) or abort(404)
        config = current_app.config
        count = sample_subject = sample_body = None
        if broadcast.status == "draft":
            count, sample_subject, sample_body = broadcasts.preview(
                db.session, broadcast, local_today(), config["CRM_BASE_URL"], config["SECRET_KEY"]
            )
        figures = broadcasts.stats(db.session, [broadcast.id]).get(broadcast.id)
        failures = broadcasts.failed_messages(db.session, broadcast.id)
        return self.render_template(
            "crm/broadcast_report.html",
            broadcast=broadcast,
            count=count,
            sample_subject=sample_subject,
            sample_body=sample_body,
            figures=figures,
            failures=failures,
        )

    @expose("/schedule/<int:pk>", methods=["POST"])
    @has_access
    def schedule(self, pk):
        broadcast = db.session.get(models.Broadcast, pk) or abort(404)
        at = None
        if request.form.get("at"):
            try:
                at = parse_typed_datetime(request.form["at"])
            except TypedDateError:
                flash(str(_("Enter a date and time such as 2026-12-01 18:00.")), "danger")
                return redirect(url_for(".report", pk=pk))
        try:
            broadcasts.schedule(db.session, broadcast, utcnow(), at)
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "danger")
        else:
            flash(str(_("Scheduled; the scheduler queues it at the set time and the outbox sends it.")), "success")
        return redirect(url_for(".report", pk=pk))


class BroadcastLinkView(BaseView):
    """The tracked link (no login) and the gateways' delivery reports (bearer token)."""

    route_base = ""

    @expose("/b/<token>")
    def click(self, token):
        target = broadcasts.record_click(db.session, current_app.config["SECRET_KEY"], token, utcnow())
        if target is None:
            abort(404)
        return redirect(target)

    @expose("/notify/receipt", methods=["POST"])
    @csrf.exempt
    def receipt(self):
        token = current_app.config.get("CRM_GATEWAY_TOKEN")
        if not token or request.headers.get("Authorization") != f"Bearer {token}":
            return jsonify(message="unauthorised"), 401
        data = request.get_json(silent=True) or {}
        try:
            broadcasts.record_receipt(
                db.session,
                str(data.get("reference", "")),
                data.get("status") == "delivered",
                utcnow(),
                str(data.get("detail", ""))[:200],
            )
        except DomainError as error:
            db.session.rollback()
            return jsonify(message=str(error)), 404
        return jsonify(message="ok")


class MessageTemplateView(CrmView):
    """消息模板: the wording of each notice; the variables it may use are listed on the form."""

    datamodel = CrmInterface(models.MessageTemplate)
    class_permission_name = RESOURCE_MESSAGE_TEMPLATE
    base_permissions = ["can_read", "can_edit"]  # one row per notice kind, created by `crm init`
    list_columns = ["key", "subject", "active", "updated_at"]
    edit_columns = ["subject", "body", "active"]
    show_columns = ["key", "subject", "body", "active", "updated_at"]
    search_columns = ["key", "subject", "active"]
    order_columns = ["key", "subject", "updated_at"]

    description_columns = {"body": LazyString(lambda: str(_("Variables: %(names)s", names=variables_help())))}

    def check_record(self, item):

        check_template(item.key, item.subject, item.body)


class OutboxView(CrmView):
    """消息发件箱: every notice to customers, its channel, attempts and failures; failed ones can be resent."""

    datamodel = CrmInterface(models.OutboxMessage)
    class_permission_name = RESOURCE_OUTBOX
    label_columns = {"address": _("Recipient"), "user": _("Staff member"), "body_for_staff": _("Content")}
    base_permissions = ["can_read", "can_edit"]
    list_columns = [
        "created_at",
        "customer",
        "template_key",
        "channel",
        "address",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
    ]
    show_columns = [
        "created_at",
        "customer",
        "user",
        "template_key",
        "channel",
        "address",
        "fallback",
        "subject",
        "body_for_staff",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "log",
    ]
    search_columns = ["status", "channel", "template_key", "created_at", "sent_at"]
    order_columns = ["created_at", "status", "channel", "sent_at", "next_attempt_at"]
    base_order = ("created_at", "desc")
    quick_search = ("subject", "address", "customer.name")

    @action(
        "resend", _("Send again"), _("Send the selected failed messages again?"), "fa-redo", multiple=True, single=True
    )
    def resend(self, items):

        items = items if isinstance(items, list) else [items]
        count = retry_failed(db.session, [item.id for item in items], utcnow())
        flash(
            str(_("%(count)s messages queued again; messages already sent are never resent.", count=count)), "success"
        )
        return redirect(url_for(".list"))
