"""Model pages: declarations of columns, search, order and related lists; no business logic."""

from flask_babel import lazy_gettext as _

from app import models
from app.activities.views import ACTIVITY_HIDDEN, ACTIVITY_MENU
from app.admin.views import (
    AccountSecurityView,
    ChangeLogView,
    ExportDownloadView,
    FieldPermissionView,
    ImportView,
    InboxView,
    PasswordResetView,
    PerformanceView,
    RatingView,
    TaskView,
)
from app.billing.views import (
    ArrearsView,
    BillingRunView,
    BillView,
    FeeRuleView,
    MeterReadingView,
    PaymentNotificationView,
    PaymentOrderView,
    PaymentView,
    WriteOffView,
)
from app.care.views import CARE_HIDDEN, CARE_MENU, FACILITY_MENU, CareRemindersView, SurveyAnswerPage
from app.core import column_types as types
from app.customers.views import CustomerView, ResidenceView, TagView
from app.notices.views import BroadcastLinkView, BroadcastView, MessageTemplateView, OutboxView
from app.policy.permissions import (
    RESOURCE_ARREARS,
    RESOURCE_BILLING_RUN,
)
from app.property.views import BuildingView, UnitView
from app.staff.views import (
    DepartmentView,
    DispatchRuleView,
    DutyShiftView,
    SlaPolicyView,
    StaffProfileView,
    SystemSettingView,
)
from app.tickets.views import (
    CommunicationView,
    LoggedByMeView,
    MyTodoView,
    PendingPoolView,
    TicketAttachmentView,
    TicketEventView,
    TicketRatingView,
    TicketView,
    TicketWorkView,
)
from app.web.lookups import LookupView
from app.web.model_view import building_filter_here, list_columns_here, saved_views_here, unit_filters_here
from app.web.fields import format_datetime
from app.reporting.views import register_dashboard_views

# (menu name, view, label, icon, category, category label, category icon); the menu staff know
MENU = (
    [
        (
            "Customers",
            CustomerView,
            _("Customer list"),
            "fa-address-card",
            "CustomerManagement",
            _("Customer management"),
            "fa-users",
        ),
        (
            "Residences",
            ResidenceView,
            _("Residences"),
            "fa-home",
            "CustomerManagement",
            _("Customer management"),
            "fa-users",
        ),
        (
            "Communications",
            CommunicationView,
            _("Communication records"),
            "fa-comments",
            "CustomerManagement",
            _("Customer management"),
            "fa-users",
        ),
        ("Tags", TagView, _("Customer tags"), "fa-tags", "CustomerManagement", _("Customer management"), "fa-users"),
        (
            "Broadcasts",
            BroadcastView,
            _("Broadcasts"),
            "fa-bullhorn",
            "CustomerManagement",
            _("Customer management"),
            "fa-users",
        ),
        ("Buildings", BuildingView, _("Buildings"), "fa-building", "Property", _("Property"), "fa-city"),
        ("Units", UnitView, _("Units"), "fa-door-open", "Property", _("Property"), "fa-city"),
        ("MyTodo", MyTodoView, _("My to-do"), "fa-tasks", "ServiceCenter", _("Service center"), "fa-headset"),
        (
            "LoggedByMe",
            LoggedByMeView,
            _("Tickets I logged"),
            "fa-clipboard-list",
            "ServiceCenter",
            _("Service center"),
            "fa-headset",
        ),
        (
            "PendingPool",
            PendingPoolView,
            _("Pending tickets"),
            "fa-inbox",
            "ServiceCenter",
            _("Service center"),
            "fa-headset",
        ),
        ("Tickets", TicketView, _("Tickets"), "fa-wrench", "ServiceCenter", _("Service center"), "fa-headset"),
        ("Ratings", TicketRatingView, _("Ratings"), "fa-star", "ServiceCenter", _("Service center"), "fa-headset"),
        (
            "TicketEvents",
            TicketEventView,
            _("Ticket history"),
            "fa-history",
            "ServiceCenter",
            _("Service center"),
            "fa-headset",
        ),
        ("Bills", BillView, _("Bills"), "fa-file-invoice", "Billing", _("Billing"), "fa-yen-sign"),
        ("Payments", PaymentView, _("Payments"), "fa-money-bill", "Billing", _("Billing"), "fa-yen-sign"),
        ("WriteOffs", WriteOffView, _("Write-offs"), "fa-stamp", "Billing", _("Billing"), "fa-yen-sign"),
        ("BillingRuns", BillingRunView, _("Bill generation"), "fa-cogs", "Billing", _("Billing"), "fa-yen-sign"),
        (
            "MeterReadings",
            MeterReadingView,
            _("Meter readings"),
            "fa-tachometer-alt",
            "Billing",
            _("Billing"),
            "fa-yen-sign",
        ),
        ("FeeRules", FeeRuleView, _("Fee rules"), "fa-calculator", "Billing", _("Billing"), "fa-yen-sign"),
        ("Departments", DepartmentView, _("Departments"), "fa-sitemap", "Settings", _("System settings"), "fa-cogs"),
        ("Staff", StaffProfileView, _("Staff profiles"), "fa-id-badge", "Settings", _("System settings"), "fa-cogs"),
        ("DutyRoster", DutyShiftView, _("Duty roster"), "fa-calendar-alt", "Settings", _("System settings"), "fa-cogs"),
        (
            "DispatchRules",
            DispatchRuleView,
            _("Dispatch rules"),
            "fa-random",
            "Settings",
            _("System settings"),
            "fa-cogs",
        ),
        (
            "AccountSecurity",
            AccountSecurityView,
            _("Account security"),
            "fa-user-shield",
            "Settings",
            _("System settings"),
            "fa-cogs",
        ),
        ("ChangeLog", ChangeLogView, _("Change history"), "fa-history", "Settings", _("System settings"), "fa-cogs"),
        (
            "SlaPolicies",
            SlaPolicyView,
            _("Service levels"),
            "fa-stopwatch",
            "Settings",
            _("System settings"),
            "fa-cogs",
        ),
        (
            "SystemSettings",
            SystemSettingView,
            _("System parameters"),
            "fa-sliders-h",
            "Settings",
            _("System settings"),
            "fa-cogs",
        ),
        (
            "MessageTemplates",
            MessageTemplateView,
            _("Message templates"),
            "fa-envelope-open-text",
            "Settings",
            _("System settings"),
            "fa-cogs",
        ),
        ("Outbox", OutboxView, _("Outbox"), "fa-paper-plane", "ServiceCenter", _("Service center"), "fa-headset"),
    ]
    + [(name, view, label, icon, "Property", _("Property"), "fa-city") for name, view, label, icon in FACILITY_MENU]
    + [
        (name, view, label, icon, "CustomerCare", _("Customer care"), "fa-hand-holding-heart")
        for name, view, label, icon in CARE_MENU + ACTIVITY_MENU
    ]
)

# menu name -> resource whose read permission shows it (None: shown to every role)
MENU_RESOURCES = {name: view.class_permission_name for name, view, *_ in MENU}
MENU_RESOURCES.update({category: None for *_, category, _label, _icon in MENU})
MENU_RESOURCES["Import"] = "Import"
MENU_RESOURCES["Performance"] = "Performance"
MENU_RESOURCES["CareReminders"] = "CareReminders"
MENU_RESOURCES["Arrears"] = RESOURCE_ARREARS
MENU_RESOURCES["GenerateBills"] = RESOURCE_BILLING_RUN
MENU_RESOURCES.update(
    {
        "Dashboards": None,
        "Dashboard": "Dashboard",
        "ServiceReport": "Report",
        "CollectionReport": "Report",
        "DashboardWidgets": "DashboardWidget",
    }
)

HIDDEN_VIEWS = [TicketAttachmentView, PaymentOrderView, PaymentNotificationView] + CARE_HIDDEN + ACTIVITY_HIDDEN


def register_views(appbuilder):
    from flask import current_app

    current_app.jinja_env.globals["crm_saved_views"] = saved_views_here
    current_app.jinja_env.globals["crm_list_columns"] = list_columns_here
    current_app.jinja_env.globals["crm_building_filter"] = building_filter_here
    current_app.jinja_env.globals["crm_unit_filters"] = unit_filters_here
    current_app.jinja_env.filters["crm_local_time"] = format_datetime
    current_app.jinja_env.filters["crm_broadcast_status"] = types.BROADCAST_STATUSES.label
    current_app.jinja_env.filters["crm_survey_status"] = types.SURVEY_STATUSES.label
    current_app.jinja_env.filters["crm_question_kind"] = types.QUESTION_KINDS.label
    current_app.jinja_env.filters["crm_renovation_status"] = types.RENOVATION_STATUSES.label
    current_app.jinja_env.filters["crm_ticket_type"] = types.TICKET_TYPES.label
    current_app.jinja_env.filters["crm_ticket_status"] = types.TICKET_STATUSES.label
    appbuilder.sm.menu_resource_map = MENU_RESOURCES
    for name, view, label, icon, category, category_label, category_icon in MENU:
        appbuilder.add_view(
            view,
            name,
            label=label,
            icon=icon,
            category=category,
            category_label=category_label,
            category_icon=category_icon,
        )
    for view in HIDDEN_VIEWS:
        appbuilder.add_view_no_menu(view)
    LookupView.resources = {
        model.__tablename__: (model, view.class_permission_name)
        for model, view in [
            (models.Customer, CustomerView),
            (models.Unit, UnitView),
            (models.Bill, BillView),
            (models.Ticket, TicketView),
            (models.Building, BuildingView),
        ]
        + [
            (view.datamodel.obj, view)
            for _name, view, *_rest in CARE_MENU + FACILITY_MENU
            if getattr(view.datamodel.obj, "__lookup__", None)
        ]
    }
    appbuilder.add_view_no_menu(LookupView)
    appbuilder.add_view_no_menu(RatingView)
    appbuilder.add_view_no_menu(InboxView)
    appbuilder.add_view_no_menu(ExportDownloadView)
    appbuilder.add_view_no_menu(TaskView)
    appbuilder.add_view_no_menu(PasswordResetView)
    appbuilder.add_view_no_menu(TicketWorkView)
    appbuilder.add_view_no_menu(BroadcastLinkView)
    appbuilder.add_view_no_menu(SurveyAnswerPage)
    fields = {}
    for _name, view, *_rest in MENU:  # every field any page of the resource shows or edits
        columns = fields.setdefault(view.class_permission_name, {})
        for cols in (view.list_columns, view.show_columns, view.add_columns, view.edit_columns):
            columns.update(dict.fromkeys(c.split(".")[0] for c in cols or ()))
    FieldPermissionView.resources = {resource: list(columns) for resource, columns in fields.items()}
    appbuilder.add_view(
        ImportView,
        "Import",
        href="/import/customers/",
        label=_("Excel import"),
        icon="fa-file-import",
        category="CustomerManagement",
        category_label=_("Customer management"),
        category_icon="fa-users",
    )
    appbuilder.add_view(
        CareRemindersView,
        "CareReminders",
        label=_("Care reminders"),
        icon="fa-birthday-cake",
        category="CustomerCare",
        category_label=_("Customer care"),
        category_icon="fa-hand-holding-heart",
    )
    appbuilder.add_view(
        PerformanceView,
        "Performance",
        label=_("Staff performance"),
        icon="fa-chart-line",
        category="ServiceCenter",
        category_label=_("Service center"),
        category_icon="fa-headset",
    )
    appbuilder.add_link(
        "GenerateBills",
        href="/billingrunview/generate",
        label=_("Generate bills"),
        icon="fa-file-invoice-dollar",
        category="Billing",
        category_label=_("Billing"),
    )
    appbuilder.add_view(
        ArrearsView,
        "Arrears",
        label=_("Arrears"),
        icon="fa-exclamation-triangle",
        category="Billing",
        category_label=_("Billing"),
        category_icon="fa-yen-sign",
    )

    register_dashboard_views(appbuilder)
    appbuilder.add_view(
        FieldPermissionView,
        "FieldPermissions",
        label=_("Field permissions"),
        icon="fa-user-lock",
        category="Settings",
        category_label=_("System settings"),
        category_icon="fa-cogs",
    )
