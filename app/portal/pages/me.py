"""我的信息 (/portal/me): name, masked mobile, units, preferred channel, family members."""

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext as _

from app.core.clock import utcnow
from app.core.errors import DomainError
from app.extensions import db
from app.models import Customer
from app.notices.notify import channel_order
from app.policy.principal import SYSTEM, acting_as
from app.portal.blueprint import portal, tile
from app.portal.codes import masked
from app.portal.profile import add_family_member, channels_for, household, remove_family_member, set_preferred_channel
from app.portal.session import current_customer_id, resident_required
from app.core.column_types import NOTIFY_CHANNELS, RESIDENT_RELATIONS

tile("portal.me", _("My details"), "👤")


def _page(error=None, status=200, form=None):
    customer = db.session.get(Customer, current_customer_id())
    with acting_as(SYSTEM):  # family members are other customers: only those on this resident's units
        units = household(db.session, customer.id)
    owned = [home.tie for home in units if home.tie.relation == "owner"]
    return (
        render_template(
            "portal/me.html",
            title=_("My details"),
            back=url_for("portal.home"),
            customer=customer,
            phone=masked(customer.phone),
            units=units,
            owned=owned,
            channels=[(c, NOTIFY_CHANNELS.label(c)) for c in channels_for(customer, channel_order())],
            relations=RESIDENT_RELATIONS,
            family_edit=current_app.config["CRM_PORTAL_FAMILY_EDIT"],
            error=error,
            form=form or {},
        ),
        status,
    )


@portal.route("/me")
@resident_required
def me():
    return _page()


@portal.route("/me/channel", methods=["POST"])
@resident_required
def me_channel():
    customer = db.session.get(Customer, current_customer_id())
    try:
        set_preferred_channel(db.session, customer, request.form.get("channel", ""), channel_order())
    except DomainError as error:
        db.session.rollback()
        return _page(error.message, 422)
    flash(gettext("Saved."), "success")
    return redirect(url_for("portal.me"))


@portal.route("/me/family", methods=["POST"])
@resident_required
def me_family_add():
    unit_id = request.form.get("unit", type=int)
    try:
        with acting_as(SYSTEM):  # add_family_member checks the resident owns the unit first
            add_family_member(
                db.session,
                current_customer_id(),
                unit_id,
                request.form.get("name"),
                request.form.get("phone"),
                utcnow(),
                current_app.config["CRM_PORTAL_FAMILY_EDIT"],
            )
    except DomainError as error:
        db.session.rollback()
        return _page(error.message, error.status, form=request.form)
    flash(gettext("Family member added."), "success")
    return redirect(url_for("portal.me"))


@portal.route("/me/family/<int:tie_id>/remove", methods=["POST"])
@resident_required
def me_family_remove(tie_id):
    try:
        with acting_as(SYSTEM):  # remove_family_member finds only the ties this resident added
            remove_family_member(db.session, current_customer_id(), tie_id)
    except DomainError as error:
        db.session.rollback()
        return _page(error.message, 404)
    flash(gettext("Family member removed."), "success")
    return redirect(url_for("portal.me"))
