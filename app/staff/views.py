"""Organisation pages: departments, staff profiles, dispatch rules, the duty roster, service levels and system parameters."""

from flask_babel import lazy_gettext as _
from wtforms.validators import NumberRange

from app import models
from app.policy.permissions import (
    RESOURCE_DEPARTMENT,
    RESOURCE_DISPATCH_RULE,
    RESOURCE_DUTY_SHIFT,
    RESOURCE_SLA_POLICY,
    RESOURCE_STAFF,
)
from app.tickets.views import TicketView
from app.web.interface import CrmInterface
from app.web.model_view import CrmView


class StaffProfileView(CrmView):
    datamodel = CrmInterface(models.StaffProfile)
    class_permission_name = RESOURCE_STAFF
    list_columns = ["user", "department", "phone", "on_duty", "on_leave", "max_open_tickets", "buildings"]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["department", "phone", "on_duty", "on_leave", "buildings"]
    order_columns = ["user", "department", "on_duty", "max_open_tickets"]


class DepartmentView(CrmView):
    datamodel = CrmInterface(models.Department)
    class_permission_name = RESOURCE_DEPARTMENT
    list_columns = ["name", "phone", "description"]
    add_columns = edit_columns = show_columns = ["name", "phone", "description"]
    search_columns = ["name", "phone"]
    order_columns = ["name"]
    base_order = ("name", "asc")
    related_views = [StaffProfileView, TicketView]


class DispatchRuleView(CrmView):
    datamodel = CrmInterface(models.DispatchRule)
    class_permission_name = RESOURCE_DISPATCH_RULE
    list_columns = ["ticket_type", "building", "unit_use", "department"]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["ticket_type", "building", "unit_use", "department"]
    order_columns = ["ticket_type", "building", "department"]


class DutyShiftView(CrmView):
    datamodel = CrmInterface(models.DutyShift)
    class_permission_name = RESOURCE_DUTY_SHIFT
    label_columns = {"staff": _("Staff")}
    list_columns = ["staff", "weekday", "start_minute", "end_minute"]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["staff", "weekday"]
    order_columns = ["staff", "weekday", "start_minute"]


class SlaPolicyView(CrmView):
    datamodel = CrmInterface(models.SlaPolicy)
    class_permission_name = RESOURCE_SLA_POLICY
    list_columns = ["ticket_type", "priority", "response_minutes", "resolution_minutes"]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["ticket_type", "priority"]
    order_columns = ["ticket_type", "priority", "response_minutes", "resolution_minutes"]


class SystemSettingView(CrmView):
    """系统参数: defaults the firm may change (the service-level fallback, the level-2 escalation
    delay), created by `crm init`; read and edited like the service levels (same permission)."""

    datamodel = CrmInterface(models.SystemSetting)
    class_permission_name = RESOURCE_SLA_POLICY
    base_permissions = ["can_read", "can_edit"]  # one row per setting, created by `crm init`
    list_columns = ["key", "meaning", "value"]
    show_columns = ["key", "meaning", "value"]
    edit_columns = ["value"]
    search_columns = ["key"]
    order_columns = ["key", "value"]
    label_columns = {"key": _("Setting"), "meaning": _("Meaning"), "value": _("Value (minutes)")}
    validators_columns = {"value": [NumberRange(min=1, message=_("Enter a whole number of minutes, at least 1."))]}
