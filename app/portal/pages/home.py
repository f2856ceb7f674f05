"""The portal's home page, sign-in by personal link, and sign-out."""

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext, lazy_gettext as _

from app.extensions import db
from app.models import Customer
from app.policy.principal import SYSTEM, acting_as
from app.portal.blueprint import TILES, portal, public
from app.portal.links import customer_for_link
from app.portal.session import current_customer_id, resident_required, sign_in, sign_out


@portal.route("/")
@resident_required
def home():
    customer = db.session.get(Customer, current_customer_id())
    return render_template("portal/home.html", customer=customer, tiles=TILES, title=_("Resident services"))


@portal.route("/link/<token>")
@public
def sign_in_by_link(token):
    config = current_app.config
    with acting_as(SYSTEM):  # the signed link, not a session, names the resident
        customer = customer_for_link(db.session, token, config["SECRET_KEY"], config["CRM_PORTAL_LINK_DAYS"])
    if customer is None:
        flash(gettext("This link has expired or is not valid. Sign in with your mobile number."), "danger")
        return redirect(url_for("portal.sign_in_page"))
    sign_in(customer, "link")
    return redirect(url_for("portal.home"))


@portal.route("/sign-out", methods=["POST"])
@public
def sign_out_view():
    sign_out()
    return redirect(url_for("portal.sign_in_page"))
