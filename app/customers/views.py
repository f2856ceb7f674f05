"""Customer pages: customers, residences, communications and tags."""

from flask import abort, redirect, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.actions import action
from flask_babel import lazy_gettext as _

from app import models
from app.billing.views import BillView
from app.extensions import db
from app.policy.principal import current_principal
from app.policy.permissions import (
    RESOURCE_CUSTOMER,
    RESOURCE_RESIDENCE,
    RESOURCE_TAG,
)
from app.tickets.views import CommunicationView, TicketView
from app.web.interface import CrmInterface
from app.web.model_view import CrmView
from app.customers.timeline import customer_timeline


class ResidenceView(CrmView):
    datamodel = CrmInterface(models.CustomerUnit)
    class_permission_name = RESOURCE_RESIDENCE
    list_columns = ["customer", "unit", "relation", "move_in", "move_out"]
    add_columns = edit_columns = ["customer", "unit", "relation", "move_in", "move_out"]
    show_columns = list_columns
    search_columns = ["relation", "move_in", "move_out"]
    order_columns = ["customer", "unit", "relation", "move_in", "move_out"]


class CustomerView(CrmView):
    datamodel = CrmInterface(models.Customer)
    class_permission_name = RESOURCE_CUSTOMER
    label_columns = {"name": _("Full name")}
    list_columns = ["name", "phone", "type", "status", "tags", "units", "created_at"]
    add_columns = edit_columns = [
        "name",
        "gender",
        "birthday",
        "phone",
        "email",
        "id_number",
        "occupation",
        "type",
        "status",
        "tags",
        "preferred_channel",
        "wechat_openid",
        "notes",
    ]
    show_columns = [
        "name",
        "gender",
        "birthday",
        "phone",
        "email",
        "id_number",
        "occupation",
        "type",
        "status",
        "tags",
        "preferred_channel",
        "wechat_openid",
        "notes",
        "created_at",
        "updated_at",
    ]
    search_columns = ["name", "phone", "type", "status", "tags", "gender", "birthday", "email", "created_at"]
    order_columns = ["name", "phone", "type", "status", "created_at"]
    base_order = ("id", "desc")
    # the user manual: customers are found by name, room number or phone from one search box
    quick_search = ("name", "phone", "units.unit.number")
    unit_filters = True
    related_views = [ResidenceView, TicketView, CommunicationView, BillView]

    @action("open_timeline", _("Customer timeline"), icon="fa-stream", multiple=False, single=True)
    def open_timeline(self, item):
        return redirect(url_for(".timeline", pk=item.id))

    @expose("/timeline/<int:pk>")
    @has_access
    def timeline(self, pk):
        """客户时间线: tickets, communications, bills, payments and messages, newest first."""

        customer = db.session.get(models.Customer, pk) or abort(404)
        return self.render_template(
            "crm/customer_timeline.html",
            customer=customer,
            entries=customer_timeline(db.session, customer.id, current_principal()),
        )


class TagView(CrmView):
    datamodel = CrmInterface(models.Tag)
    class_permission_name = RESOURCE_TAG
    list_columns = ["name", "color", "description"]
    add_columns = edit_columns = show_columns = ["name", "color", "description"]
    search_columns = ["name", "description"]
    order_columns = ["name"]
    base_order = ("name", "asc")
