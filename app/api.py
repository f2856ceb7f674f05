"""REST resources at /api/v1/<resource>/: the same models, rules and permissions as the pages."""
from app import models
from app.crud import CrmInterface, CrmModelApi
from app.security import API_METHOD_PERMISSIONS


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


BuildingApi = _api(models.Building, "building", ["code", "name", "address", "floors"],
                   ["code", "name", "address", "floors", "notes"], ("name", "code"))
UnitApi = _api(models.Unit, "unit", ["building.id", "building.name", "number", "floor", "area", "layout", "use", "status"],
               ["building", "number", "floor", "area", "layout", "use", "status", "notes"], ("number",))
CustomerApi = _api(models.Customer, "customer",
                   ["name", "gender", "phone", "email", "type", "status", "tags.id", "tags.name"],
                   ["name", "gender", "birthday", "phone", "email", "id_number", "occupation", "type", "status",
                    "tags", "notes"], ("name", "phone", "units.unit.number"))
TagApi = _api(models.Tag, "tag", ["name", "color", "description"], ["name", "color", "description"], ("name",))
DepartmentApi = _api(models.Department, "department", ["name", "phone", "description"],
                     ["name", "phone", "description"], ("name",))
TicketApi = _api(models.Ticket, "ticket",
                 ["number", "title", "type", "priority", "status", "channel", "customer.id", "customer.name",
                  "unit.id", "unit.number", "department.id", "department.name", "assignee.id", "assignee.username",
                  "deadline", "created_at"],
                 ["title", "type", "priority", "status", "channel", "customer", "unit", "department", "assignee",
                  "deadline", "description", "resolution"], ("number", "title"))
TicketApi.show_columns = TicketApi.show_columns + ["response_due", "resolution_due", "responded_at", "resolved_at",
                                                   "closed_at", "escalation_level"]
CommunicationApi = _api(models.Communication, "communication",
                        ["at", "channel", "summary", "customer.id", "customer.name", "staff.id", "staff.username"],
                        ["customer", "at", "channel", "summary", "staff", "tickets"], ("summary",))
BillApi = _api(models.Bill, "bill",
               ["period", "fee_type", "amount", "paid_amount", "written_off_amount", "status", "due_date",
                "customer.id", "customer.name",
                "unit.id", "unit.number"],
               ["customer", "unit", "period", "fee_type", "amount", "due_date", "notes"], ("period",))
PaymentApi = _api(models.Payment, "payment",
                  ["receipt_number", "kind", "amount", "method", "paid_at", "bill.id", "bill.period", "reverses.id",
                   "reason"],
                  ["bill", "amount", "method", "paid_at", "notes"], ("receipt_number",))
PaymentApi.edit_columns = ["notes"]
WriteOffApi = _api(models.WriteOff, "write_off",
                   ["bill.id", "amount", "reason", "status", "requested_by.username", "requested_at",
                    "decided_by.username", "decided_at"],
                   ["bill", "amount", "reason"], ("reason",))
WriteOffApi.edit_columns = ["status"]  # a decision; app.billing checks who may make it
WriteOffApi.method_permission_name = dict(API_METHOD_PERMISSIONS, put="approve")
BillApi.edit_columns = ["customer", "unit", "period", "fee_type", "amount", "due_date", "notes"]

APIS = [BuildingApi, UnitApi, CustomerApi, TagApi, DepartmentApi, TicketApi, CommunicationApi, BillApi, PaymentApi,
        WriteOffApi]


def register_apis(appbuilder):
    for api in APIS:
        appbuilder.add_api(api)
