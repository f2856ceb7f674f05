"""Property pages: buildings and units."""

from app import models
from app.billing.views import BillView
from app.customers.views import ResidenceView
from app.policy.permissions import (
    RESOURCE_BUILDING,
    RESOURCE_UNIT,
)
from app.tickets.views import TicketView
from app.web.interface import CrmInterface
from app.web.model_view import CrmView


class UnitView(CrmView):
    datamodel = CrmInterface(models.Unit)
    class_permission_name = RESOURCE_UNIT
    list_columns = ["building", "number", "floor", "area", "layout", "use", "status"]
    add_columns = edit_columns = ["building", "number", "floor", "area", "layout", "use", "status", "notes"]
    show_columns = add_columns + ["created_at", "updated_at"]
    search_columns = ["building", "number", "floor", "area", "layout", "use", "status"]
    order_columns = ["building", "number", "floor", "area", "layout", "use", "status"]
    base_order = ("id", "asc")
    quick_search = ("number", "building.name", "layout")
    unit_filters = True
    related_views = [ResidenceView, TicketView, BillView]


class BuildingView(CrmView):
    datamodel = CrmInterface(models.Building)
    class_permission_name = RESOURCE_BUILDING
    list_columns = ["code", "name", "address", "floors"]
    add_columns = edit_columns = ["code", "name", "address", "floors", "notes"]
    show_columns = add_columns + ["created_at", "updated_at"]
    search_columns = ["code", "name", "address", "floors"]
    order_columns = ["code", "name", "floors"]
    base_order = ("code", "asc")
    quick_search = ("name", "code", "address")
    related_views = [UnitView]
