"""The portal's pages: thin; what a resident may see or do is decided in the portal's domain modules."""

from flask import Blueprint, redirect, render_template, url_for
from flask_babel import lazy_gettext as _

from app.extensions import db
from app.models import Customer
from app.portal.session import current_customer_id, load_resident, resident_required, sign_out

portal = Blueprint("portal", __name__, url_prefix="/portal")

# the home page's tiles: (endpoint, label, icon); a section adds its tile here when it lands
TILES = []


def tile(endpoint, label, icon):
    TILES.append((endpoint, label, icon))


@portal.before_request
def _resident():
    load_resident()


@portal.route("/")
@resident_required
def home():
    customer = db.session.get(Customer, current_customer_id())
    return render_template("portal/home.html", customer=customer, tiles=TILES, title=_("Resident services"))


@portal.route("/sign-in")
def sign_in():
    # the sign-in by one-time code replaces this page
    return render_template("portal/sign_in.html", title=_("Sign in")), 200


@portal.route("/sign-out", methods=["POST"])
def sign_out_view():
    sign_out()
    return redirect(url_for("portal.sign_in"))
