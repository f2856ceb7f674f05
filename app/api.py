"""REST resources at /api/v1/<resource>/: the same models, rules and permissions as the pages."""

from app import models
from app.web.interface import CrmInterface
from app.web.model_api import CrmModelApi
from app.policy.permissions import API_METHOD_PERMISSIONS
from app.care.contracts import check_contract, check_editable
from app.facilities.maintenance import check_plan
from app.core.clock import local_zone


def _api(model, resource, list_columns, add_columns, quick_search=(), show_exclude=(), **extra):
    attrs = {
        "datamodel": CrmInterface(model),
        "resource_name": resource,
        "class_permission_name": model.__name__,
        "method_permission_name": API_METHOD_PERMISSIONS,
        "allow_browser_login": True,
        "list_columns": ["id"] + list_columns,
        "show_columns": ["id"] + [c for c in list_columns + add_columns if c not in show_exclude],
        "add_columns": add_columns,
        "edit_columns": add_columns,
        "order_columns": [c for c in list_columns if "." not in c],
        "quick_search": quick_search,
        "page_size": 20,
    }
    attrs["show_columns"] = list(dict.fromkeys(attrs["show_columns"]))
    attrs.update(extra)
    return type(f"{model.__name__}Api", (CrmModelApi,), attrs)


BuildingApi = _api(
    models.Building,
    "building",
    ["code", "name", "address", "floors"],
    ["code", "name", "address", "floors", "notes"],
    ("name", "code"),
)
UnitApi = _api(
    models.Unit,
    "unit",
    ["building.id", "building.name", "number", "floor", "area", "layout", "use", "status"],
    ["building", "number", "floor", "area", "layout", "use", "status", "notes"],
    ("number",),
)
CustomerApi = _api(
    models.Customer,
    "customer",
    ["name", "gender", "phone", "email", "type", "status", "tags.id", "tags.name"],
    ["name", "gender", "birthday", "phone", "email", "id_number", "occupation", "type", "status", "tags", "notes"],
    ("name", "phone", "units.unit.number"),
)
TagApi = _api(models.Tag, "tag", ["name", "color", "description"], ["name", "color", "description"], ("name",))
DepartmentApi = _api(
    models.Department, "department", ["name", "phone", "description"], ["name", "phone", "description"], ("name",)
)
TicketApi = _api(
    models.Ticket,
    "ticket",
    [
        "number",
        "title",
        "type",
        "priority",
        "status",
        "channel",
        "customer.id",
        "customer.name",
        "unit.id",
        "unit.number",
        "department.id",
        "department.name",
        "assignee.id",
        "assignee.username",
        "deadline",
        "created_at",
    ],
    [
        "title",
        "type",
        "priority",
        "status",
        "channel",
        "customer",
        "unit",
        "department",
        "assignee",
        "deadline",
        "description",
        "resolution",
    ],
    ("number", "title", "description"),
)
TicketApi.show_columns = TicketApi.show_columns + [
    "response_due",
    "resolution_due",
    "responded_at",
    "resolved_at",
    "closed_at",
    "escalation_level",
]
CommunicationApi = _api(
    models.Communication,
    "communication",
    ["at", "channel", "summary", "customer.id", "customer.name", "staff.id", "staff.username"],
    ["customer", "at", "channel", "summary", "staff", "tickets"],
    ("summary",),
)
BillApi = _api(
    models.Bill,
    "bill",
    [
        "period",
        "fee_type",
        "amount",
        "paid_amount",
        "written_off_amount",
        "status",
        "due_date",
        "customer.id",
        "customer.name",
        "unit.id",
        "unit.number",
    ],
    ["customer", "unit", "period", "fee_type", "amount", "due_date", "notes"],
    ("period",),
)
PaymentApi = _api(
    models.Payment,
    "payment",
    ["receipt_number", "kind", "amount", "method", "paid_at", "bill.id", "bill.period", "reverses.id", "reason"],
    ["bill", "amount", "method", "paid_at", "notes"],
    ("receipt_number",),
)
PaymentApi.edit_columns = ["notes"]
WriteOffApi = _api(
    models.WriteOff,
    "write_off",
    [
        "bill.id",
        "amount",
        "reason",
        "status",
        "requested_by.username",
        "requested_at",
        "decided_by.username",
        "decided_at",
    ],
    ["bill", "amount", "reason"],
    ("reason",),
)
WriteOffApi.edit_columns = ["status"]  # a decision; app.billing.bills checks who may make it
WriteOffApi.method_permission_name = dict(API_METHOD_PERMISSIONS, put="approve")
BillApi.edit_columns = ["customer", "unit", "period", "fee_type", "amount", "due_date", "notes"]


def _with_rule(rule):
    """The API's record check plus a domain rule (the same one the pages call)."""

    def check(self, item):
        CrmModelApi._check_record(self, item)
        rule(item)

    return check


def _contract_rule(item):

    check_editable(item)
    check_contract(item)


def _plan_rule(item):

    check_plan(item, local_zone())


SupplierApi = _api(
    models.Supplier,
    "supplier",
    ["name", "contact", "phone", "email", "services"],
    ["name", "contact", "phone", "email", "services", "notes"],
    ("name",),
)
# the status moves only through the approval step on the pages; a draft is edited here
ContractApi = _api(
    models.Contract,
    "contract",
    [
        "number",
        "title",
        "kind",
        "status",
        "customer.id",
        "customer.name",
        "supplier.id",
        "supplier.name",
        "start_date",
        "end_date",
        "amount",
        "payment_cycle",
        "responsible.id",
    ],
    [
        "number",
        "title",
        "kind",
        "customer",
        "supplier",
        "units",
        "start_date",
        "end_date",
        "amount",
        "payment_cycle",
        "responsible",
        "remind_days",
        "rent_remind_days",
        "notes",
    ],
    ("number", "title"),
    _check_record=_with_rule(_contract_rule),
)
EquipmentApi = _api(
    models.Equipment,
    "equipment",
    ["code", "name", "kind", "building.id", "building.name", "location", "supplier.id", "warranty_until"],
    ["code", "name", "kind", "building", "location", "supplier", "contract", "installed_on", "warranty_until", "notes"],
    ("code", "name"),
)
MaintenancePlanApi = _api(
    models.MaintenancePlan,
    "maintenance_plan",
    [
        "title",
        "equipment.id",
        "equipment.name",
        "every",
        "unit",
        "cron",
        "start_date",
        "end_date",
        "lead_days",
        "department.id",
        "priority",
        "active",
    ],
    [
        "title",
        "equipment",
        "every",
        "unit",
        "cron",
        "start_date",
        "end_date",
        "lead_days",
        "department",
        "priority",
        "checklist",
        "active",
    ],
    ("title",),
    _check_record=_with_rule(_plan_rule),
)

APIS = [
    BuildingApi,
    UnitApi,
    CustomerApi,
    TagApi,
    DepartmentApi,
    TicketApi,
    CommunicationApi,
    BillApi,
    PaymentApi,
    WriteOffApi,
    SupplierApi,
    ContractApi,
    EquipmentApi,
    MaintenancePlanApi,
]


def register_apis(appbuilder):
    for api in APIS:
        appbuilder.add_api(api)
