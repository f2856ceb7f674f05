"""Permissions as data: the actions and resources, what each page and API method needs, and the
built-in roles.

Pages and REST resources of a model share one permission resource (its model name), so a
role that may edit customers on the page may edit them through the API, and no other way.
Code checks permissions, never role names: the roles below are only what `crm init` creates,
and admins edit them as data.
"""

from flask_babel import lazy_gettext as _

from app.policy.principal import ACTION_SEE_ALL, ACTION_SEE_DEPARTMENT

ACTION_READ = "can_read"
ACTION_CREATE = "can_create"
ACTION_EDIT = "can_edit"
ACTION_DELETE = "can_delete"
ACTION_EXPORT = "can_export"  # the user manual's "whether a role may export reports"
MENU_ACCESS = "menu_access"

RESOURCE_BUILDING = "Building"
RESOURCE_UNIT = "Unit"
RESOURCE_CUSTOMER = "Customer"
RESOURCE_RESIDENCE = "CustomerUnit"
RESOURCE_TAG = "Tag"
RESOURCE_DEPARTMENT = "Department"
RESOURCE_STAFF = "StaffProfile"
RESOURCE_TICKET = "Ticket"
RESOURCE_TICKET_ATTACHMENT = "TicketAttachment"
RESOURCE_TICKET_EVENT = "TicketEvent"
RESOURCE_COMMUNICATION = "Communication"
RESOURCE_BILL = "Bill"
RESOURCE_PAYMENT = "Payment"
RESOURCE_DISPATCH_RULE = "DispatchRule"
RESOURCE_DUTY_SHIFT = "DutyShift"
RESOURCE_SLA_POLICY = "SlaPolicy"
RESOURCE_TICKET_RATING = "TicketRating"
RESOURCE_PERFORMANCE = "Performance"
RESOURCE_MESSAGE_TEMPLATE = "MessageTemplate"
RESOURCE_OUTBOX = "OutboxMessage"
RESOURCE_FEE_RULE = "FeeRule"
RESOURCE_METER_READING = "MeterReading"
RESOURCE_BILLING_RUN = "BillingRun"
RESOURCE_WRITE_OFF = "WriteOff"
RESOURCE_ARREARS = "Arrears"
RESOURCE_BROADCAST = "Broadcast"
RESOURCE_ACCOUNT_SECURITY = "AccountSecurity"  # admins only
RESOURCE_CHANGE_LOG = "ChangeLog"  # admins only by default: it holds the values of every field
RESOURCE_SUPPLIER = "Supplier"
RESOURCE_CONTRACT = "Contract"
RESOURCE_CONTRACT_REMINDER = "ContractReminder"
RESOURCE_RETURN_VISIT_RULE = "ReturnVisitRule"
RESOURCE_RETURN_VISIT = "ReturnVisit"
RESOURCE_SURVEY = "Survey"
RESOURCE_SURVEY_QUESTION = "SurveyQuestion"
RESOURCE_SURVEY_RECIPIENT = "SurveyRecipient"
RESOURCE_EQUIPMENT = "Equipment"
RESOURCE_MAINTENANCE_PLAN = "MaintenancePlan"
RESOURCE_MAINTENANCE_OCCURRENCE = "MaintenanceOccurrence"
RESOURCE_HOLIDAY = "Holiday"
RESOURCE_CARE_REMINDERS = "CareReminders"
RESOURCE_RENOVATION = "Renovation"
RESOURCE_ACTIVITY = "Activity"
RESOURCE_ACTIVITY_SIGN_UP = "ActivitySignUp"
ACTION_APPROVE = "can_approve"
ACTION_REVERSE = "can_reverse"
RESOURCE_LOOKUP = "Lookup"
RESOURCE_FIELD_PERMISSION = "FieldPermission"
RESOURCE_IMPORT = "Import"
RESOURCE_DASHBOARD = "Dashboard"
RESOURCE_REPORT = "Report"
RESOURCE_DASHBOARD_WIDGET = "DashboardWidget"  # admins define widgets
ACTION_IMPORT = "can_import"
ACTION_MANAGE = "can_manage"  # on Ticket: work any ticket the scope shows, assign and hand it over
# Who is told of escalations (resource Escalation): level 1 in the ticket's department, level 2 anywhere
RESOURCE_ESCALATION = "Escalation"
ACTION_ESCALATION_LEVEL_1 = "can_receive_level_1"
ACTION_ESCALATION_LEVEL_2 = "can_receive_level_2"

CRM_RESOURCES = [
    RESOURCE_BUILDING,
    RESOURCE_UNIT,
    RESOURCE_CUSTOMER,
    RESOURCE_RESIDENCE,
    RESOURCE_TAG,
    RESOURCE_DEPARTMENT,
    RESOURCE_STAFF,
    RESOURCE_TICKET,
    RESOURCE_TICKET_ATTACHMENT,
    RESOURCE_TICKET_EVENT,
    RESOURCE_COMMUNICATION,
    RESOURCE_BILL,
    RESOURCE_PAYMENT,
    RESOURCE_DISPATCH_RULE,
    RESOURCE_DUTY_SHIFT,
    RESOURCE_SLA_POLICY,
    RESOURCE_TICKET_RATING,
    RESOURCE_MESSAGE_TEMPLATE,
    RESOURCE_OUTBOX,
    RESOURCE_FEE_RULE,
    RESOURCE_METER_READING,
    RESOURCE_BILLING_RUN,
    RESOURCE_WRITE_OFF,
    RESOURCE_BROADCAST,
    RESOURCE_SUPPLIER,
    RESOURCE_CONTRACT,
    RESOURCE_CONTRACT_REMINDER,
    RESOURCE_RETURN_VISIT_RULE,
    RESOURCE_RETURN_VISIT,
    RESOURCE_SURVEY,
    RESOURCE_SURVEY_QUESTION,
    RESOURCE_SURVEY_RECIPIENT,
    RESOURCE_EQUIPMENT,
    RESOURCE_MAINTENANCE_PLAN,
    RESOURCE_MAINTENANCE_OCCURRENCE,
    RESOURCE_HOLIDAY,
    RESOURCE_RENOVATION,
    RESOURCE_ACTIVITY,
    RESOURCE_ACTIVITY_SIGN_UP,
]

# Endpoint method -> permission action, for pages and REST APIs alike.
VIEW_METHOD_PERMISSIONS = {
    "list": "read",
    "show": "read",
    "related": "read",
    "download": "read",
    "add": "create",
    "edit": "edit",
    "delete": "delete",
    "action": "edit",
    "action_post": "edit",
    "export": "export",
    "export_selected": "export",
    "batch": "edit",
    "batch_edit": "edit",
    "save_view": "read",
    "delete_saved_view": "read",
    "start": "edit",
    "resend": "edit",
    "approve": "approve",
    "reject": "approve",
    "unlock": "edit",
    "reverse": "reverse",
    "reverse_action": "reverse",
    "generate": "create",
    "report": "read",
    "open_report": "read",
    "schedule": "edit",
    "timeline": "read",
    "open_timeline": "read",
    "record": "read",
    "change_history": "read",
    "submit": "edit",
    "terminate": "approve",
    "send_survey": "edit",
    "send": "edit",
    "close_survey": "edit",
    "results": "read",
    "open_results": "read",
    "export_answers": "export",
    "progress": "read",
    "open_progress": "read",
    "step": "edit",
    "mark_attended": "edit",
    "mark_absent": "edit",
}
API_METHOD_PERMISSIONS = {
    "get": "read",
    "get_list": "read",
    "info": "read",
    "post": "create",
    "put": "edit",
    "delete": "delete",
}

READ = (ACTION_READ,)
READ_CREATE = (ACTION_READ, ACTION_CREATE)
READ_WRITE = (ACTION_READ, ACTION_CREATE, ACTION_EDIT)
FULL = (ACTION_READ, ACTION_CREATE, ACTION_EDIT, ACTION_DELETE)

# The names of the built-in roles: `crm init` creates them with the rights of ROLE_CONFIGS, the demo
# puts its staff in them, and ROLE_LABELS shows them in Chinese. They are data to start from: no rule
# reads a role's name (rules read permissions, app.policy.principal), so a role an admin copies or
# renames acts by its rights alone (tests/test_principal.py).
ROLE_ADMIN = "Admin"
ROLE_MANAGER = "Manager"
ROLE_SUPERVISOR = "Supervisor"
ROLE_SERVICE = "Service"
ROLE_TECHNICIAN = "Technician"

ROLE_LABELS = {
    ROLE_ADMIN: _("System administrator"),
    ROLE_MANAGER: _("Manager"),
    ROLE_SUPERVISOR: _("Department supervisor"),
    ROLE_SERVICE: _("Service desk"),
    ROLE_TECHNICIAN: _("Technician"),
}


def _grant(actions_by_resource):
    return [(action, resource) for resource, actions in actions_by_resource.items() for action in actions]


# Built-in roles (Admin has everything through AUTH_ROLE_ADMIN). Menu access is derived:
# a role sees a menu entry when it may read the entry's resource.
ROLE_CONFIGS = {
    ROLE_MANAGER: _grant({resource: (ACTION_READ, ACTION_EXPORT) for resource in CRM_RESOURCES}),
    ROLE_SUPERVISOR: _grant(
        {
            RESOURCE_BUILDING: READ,
            RESOURCE_UNIT: READ,
            RESOURCE_CUSTOMER: READ,
            RESOURCE_RESIDENCE: READ,
            RESOURCE_TAG: READ,
            RESOURCE_DEPARTMENT: READ,
            RESOURCE_STAFF: (ACTION_READ, ACTION_EDIT),
            RESOURCE_TICKET: READ_WRITE,
            RESOURCE_TICKET_ATTACHMENT: READ_CREATE,
            RESOURCE_TICKET_EVENT: READ,
            RESOURCE_COMMUNICATION: READ_CREATE,
            RESOURCE_BILL: READ,
            RESOURCE_PAYMENT: READ,
            RESOURCE_DUTY_SHIFT: FULL,
            RESOURCE_DISPATCH_RULE: READ,
            RESOURCE_SLA_POLICY: READ,
            RESOURCE_TICKET_RATING: READ_CREATE,
            RESOURCE_OUTBOX: (ACTION_READ, ACTION_EDIT),
            RESOURCE_WRITE_OFF: (ACTION_READ, ACTION_CREATE, ACTION_APPROVE),
            RESOURCE_FEE_RULE: READ,
            RESOURCE_METER_READING: READ,
            RESOURCE_BILLING_RUN: READ,
            RESOURCE_BROADCAST: READ,
            RESOURCE_SUPPLIER: READ_WRITE,
            RESOURCE_CONTRACT: (ACTION_READ, ACTION_CREATE, ACTION_EDIT, ACTION_APPROVE),
            RESOURCE_CONTRACT_REMINDER: READ,
            RESOURCE_RETURN_VISIT_RULE: FULL,
            RESOURCE_RETURN_VISIT: (ACTION_READ, ACTION_EDIT, ACTION_EXPORT),
            RESOURCE_SURVEY: (ACTION_READ, ACTION_EXPORT),
            RESOURCE_SURVEY_QUESTION: READ,
            RESOURCE_SURVEY_RECIPIENT: READ,
            RESOURCE_EQUIPMENT: READ_WRITE,
            RESOURCE_MAINTENANCE_PLAN: FULL,
            RESOURCE_MAINTENANCE_OCCURRENCE: (ACTION_READ, ACTION_EDIT),
            RESOURCE_HOLIDAY: FULL,
            RESOURCE_CARE_REMINDERS: (ACTION_READ, ACTION_EDIT),
            RESOURCE_RENOVATION: READ_WRITE,
        }
    ),
    ROLE_SERVICE: _grant(
        {
            RESOURCE_BUILDING: READ,
            RESOURCE_UNIT: READ_WRITE,
            RESOURCE_CUSTOMER: READ_WRITE,
            RESOURCE_RESIDENCE: FULL,
            RESOURCE_TAG: READ,
            RESOURCE_DEPARTMENT: READ,
            RESOURCE_TICKET: READ_WRITE,
            RESOURCE_TICKET_ATTACHMENT: READ_CREATE,
            RESOURCE_TICKET_EVENT: READ,
            RESOURCE_COMMUNICATION: READ_WRITE,
            RESOURCE_BILL: READ,
            RESOURCE_PAYMENT: READ_CREATE,
            RESOURCE_TICKET_RATING: READ_CREATE,
            RESOURCE_OUTBOX: READ,
            RESOURCE_WRITE_OFF: READ_CREATE,
            RESOURCE_METER_READING: READ_WRITE,
            RESOURCE_FEE_RULE: READ,
            RESOURCE_BILLING_RUN: READ,
            RESOURCE_BROADCAST: READ_WRITE,
            RESOURCE_SUPPLIER: READ_WRITE,
            RESOURCE_CONTRACT: READ_WRITE,
            RESOURCE_CONTRACT_REMINDER: READ,
            RESOURCE_RETURN_VISIT_RULE: READ,
            RESOURCE_RETURN_VISIT: (ACTION_READ, ACTION_EDIT),
            RESOURCE_SURVEY: (ACTION_READ, ACTION_CREATE, ACTION_EDIT, ACTION_EXPORT),
            RESOURCE_SURVEY_QUESTION: FULL,
            RESOURCE_SURVEY_RECIPIENT: READ,
            RESOURCE_EQUIPMENT: READ,
            RESOURCE_MAINTENANCE_PLAN: READ,
            RESOURCE_MAINTENANCE_OCCURRENCE: READ,
            RESOURCE_HOLIDAY: READ_WRITE,
            RESOURCE_CARE_REMINDERS: (ACTION_READ, ACTION_EDIT),
            RESOURCE_RENOVATION: READ_WRITE,
        }
    ),
    ROLE_TECHNICIAN: _grant(
        {
            RESOURCE_BUILDING: READ,
            RESOURCE_UNIT: READ,
            RESOURCE_CUSTOMER: READ,
            RESOURCE_DEPARTMENT: READ,
            RESOURCE_TICKET: (ACTION_READ, ACTION_EDIT),
            RESOURCE_TICKET_ATTACHMENT: READ_CREATE,
            RESOURCE_TICKET_EVENT: READ,
            RESOURCE_EQUIPMENT: READ,
            RESOURCE_MAINTENANCE_PLAN: READ,
            RESOURCE_MAINTENANCE_OCCURRENCE: (ACTION_READ, ACTION_EDIT),
            RESOURCE_RENOVATION: READ,
        }
    ),
}
ROLE_CONFIGS[ROLE_SERVICE].append((ACTION_IMPORT, RESOURCE_IMPORT))
# 社区活动: the desk and supervisors publish activities and mark attendance
for _role in (ROLE_SUPERVISOR, ROLE_SERVICE):
    ROLE_CONFIGS[_role] += _grant(
        {RESOURCE_ACTIVITY: READ_WRITE, RESOURCE_ACTIVITY_SIGN_UP: (ACTION_READ, ACTION_EDIT)}
    )
ROLE_CONFIGS[ROLE_MANAGER].append((ACTION_READ, RESOURCE_PERFORMANCE))
ROLE_CONFIGS[ROLE_MANAGER].append((ACTION_READ, RESOURCE_CARE_REMINDERS))
ROLE_CONFIGS[ROLE_SUPERVISOR].append((ACTION_READ, RESOURCE_PERFORMANCE))
ROLE_CONFIGS[ROLE_SUPERVISOR].append((ACTION_REVERSE, RESOURCE_PAYMENT))
for _role in (ROLE_MANAGER, ROLE_SUPERVISOR, ROLE_SERVICE):
    ROLE_CONFIGS[_role].append((ACTION_READ, RESOURCE_ARREARS))
for _role in (ROLE_MANAGER, ROLE_SUPERVISOR):  # supervisors see their department's numbers (row scoping)
    ROLE_CONFIGS[_role] += [(ACTION_READ, RESOURCE_DASHBOARD), (ACTION_READ, RESOURCE_REPORT)]
ROLE_CONFIGS[ROLE_MANAGER].append((ACTION_EXPORT, RESOURCE_REPORT))
# Row scope and approvals are permissions too (app.policy.principal): a copied role keeps them.
ROLE_CONFIGS[ROLE_MANAGER] += [
    (ACTION_SEE_ALL, RESOURCE_TICKET),
    (ACTION_ESCALATION_LEVEL_2, RESOURCE_ESCALATION),
    (ACTION_SEE_ALL, RESOURCE_OUTBOX),
]
ROLE_CONFIGS[ROLE_SERVICE] += [
    (ACTION_SEE_ALL, RESOURCE_TICKET),
    (ACTION_MANAGE, RESOURCE_TICKET),
    (ACTION_SEE_ALL, RESOURCE_OUTBOX),
]
ROLE_CONFIGS[ROLE_SUPERVISOR] += [
    (ACTION_SEE_DEPARTMENT, RESOURCE_TICKET),
    (ACTION_SEE_DEPARTMENT, RESOURCE_STAFF),
    (ACTION_MANAGE, RESOURCE_TICKET),
    (ACTION_APPROVE, RESOURCE_RENOVATION),
    (ACTION_ESCALATION_LEVEL_1, RESOURCE_ESCALATION),
]
# Everyone signed in may use the searchable selects (each lookup checks the listed resource),
# read the API description (built per user: hidden fields are left out), see their own account
# and change their own password. Added to existing roles by every `crm init`.
EVERYONE = [
    (ACTION_READ, RESOURCE_LOOKUP),
    ("can_get", "OpenApi"),
    ("can_this_form_get", "ResetMyPasswordView"),
    ("can_this_form_post", "ResetMyPasswordView"),
    ("can_userinfo", "UserDBModelView"),
    ("resetmypassword", "UserDBModelView"),
]
for _permissions in ROLE_CONFIGS.values():
    _permissions.extend(EVERYONE)
