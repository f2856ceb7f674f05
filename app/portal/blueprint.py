"""The portal's blueprint: every section (app.portal.*) adds its routes and home tile here."""

from flask import Blueprint, redirect, request, url_for

from app.extensions import db
from app.portal.session import current_customer_id, load_resident

portal = Blueprint("portal", __name__, url_prefix="/portal")

# the home page's tiles, in order: (endpoint, label, icon)
TILES = []


def tile(endpoint, label, icon):
    TILES.append((endpoint, label, icon))


# the endpoints anyone may open (sign-in, a personal link, the gateway's notifications); every other
# portal page is a signed-in resident's, whatever its own code says
PUBLIC = set()


def public(view):
    """Declare a portal page open to anyone (under its ``@portal.route``)."""
    PUBLIC.add(f"{portal.name}.{view.__name__}")
    return view


@portal.before_request
def _resident():
    load_resident()
    # what a resident does is nobody's on the staff side: no staff login in the same browser stamps it
    db.session.info["actor_provider"] = lambda: None
    if request.endpoint not in PUBLIC and current_customer_id() is None:
        return redirect(url_for("portal.sign_in_page", next=request.full_path.rstrip("?")))
    return None
