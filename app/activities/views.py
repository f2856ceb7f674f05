"""社区活动 pages: staff publish activities to a segment; the show page lists the sign-ups, whose
attendance is marked with an action."""

from flask import flash, g, redirect, request
from flask_appbuilder.actions import action
from flask_babel import lazy_gettext as _

from app import models
from app.activities import sign_ups as activities
from app.extensions import db
from app.policy.permissions import RESOURCE_ACTIVITY, RESOURCE_ACTIVITY_SIGN_UP
from app.web.interface import CrmInterface
from app.web.model_view import CrmView


class ActivitySignUpView(CrmView):
    datamodel = CrmInterface(models.ActivitySignUp)
    class_permission_name = RESOURCE_ACTIVITY_SIGN_UP
    base_permissions = ["can_read", "can_edit"]  # sign-ups come from residents (capacity); staff mark attendance
    list_columns = [
        "activity",
        "customer",
        "customer.units",
        "customer.phone",
        "signed_up_at",
        "cancelled_at",
        "attended",
    ]
    show_columns = list_columns
    label_columns = {"customer.units": _("Units"), "customer.phone": _("Phone")}
    formatters_columns = {"customer.units": lambda residences: "、".join(str(r.unit) for r in residences or ())}
    edit_columns = ["attended"]
    search_columns = ["activity", "customer", "signed_up_at", "attended"]
    order_columns = ["signed_up_at", "cancelled_at"]
    base_order = ("signed_up_at", "asc")
    quick_search = ("customer.name", "customer.phone")

    def _mark(self, items, attended):
        items = items if isinstance(items, list) else [items]
        count = activities.mark_attendance(db.session, [item.id for item in items], attended)
        flash(str(_("Attendance marked for %(count)s sign-ups.", count=count)), "success")
        return redirect(request.referrer or self.get_redirect())

    @action("mark_attended", _("Mark attended"), icon="fa-check", multiple=True, single=True)
    def mark_attended(self, items):
        return self._mark(items, True)

    @action("mark_absent", _("Mark absent"), icon="fa-times", multiple=True, single=True)
    def mark_absent(self, items):
        return self._mark(items, False)


class ActivityView(CrmView):
    datamodel = CrmInterface(models.Activity)
    class_permission_name = RESOURCE_ACTIVITY
    base_permissions = ["can_read", "can_create", "can_edit", "can_export"]
    list_columns = ["title", "starts_at", "place", "sign_up_deadline", "capacity", "signed_up_count", "status"]
    add_columns = edit_columns = [
        "title",
        "description",
        "place",
        "starts_at",
        "ends_at",
        "sign_up_deadline",
        "capacity",
        "buildings",
        "tags",
        "status",
    ]
    show_columns = [
        "title",
        "status",
        "description",
        "place",
        "starts_at",
        "ends_at",
        "sign_up_deadline",
        "capacity",
        "signed_up_count",
        "buildings",
        "tags",
        "created_by",
        "created_at",
    ]
    search_columns = ["title", "status", "starts_at", "place"]
    order_columns = ["title", "starts_at", "sign_up_deadline", "status"]
    base_order = ("starts_at", "desc")
    related_views = [ActivitySignUpView]
    description_columns = {
        "buildings": _("Residents of any of these buildings (empty: all buildings)."),
        "tags": _("Customers with any of these tags (empty: no tag condition)."),
        "status": _("Residents see published activities; a cancelled one shows as cancelled to those signed up."),
    }

    def check_record(self, item):
        activities.check_activity(item)

    def pre_add(self, item):
        super().pre_add(item)
        item.signed_up_count = 0
        item.created_by_id = g.user.id


ACTIVITY_MENU = [("Activities", ActivityView, _("Community activities"), "fa-calendar-check")]
ACTIVITY_HIDDEN = [ActivitySignUpView]
