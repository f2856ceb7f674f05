"""The portal's blueprint: every section (app.portal.*) adds its routes and home tile here."""

from flask import Blueprint

from app.extensions import db
from app.portal.session import load_resident

portal = Blueprint("portal", __name__, url_prefix="/portal")

# the home page's tiles, in order: (endpoint, label, icon)
TILES = []


def tile(endpoint, label, icon):
    TILES.append((endpoint, label, icon))


@portal.before_request
def _resident():
    load_resident()
    # what a resident does is nobody's on the staff side: no staff login in the same browser stamps it
    db.session.info["actor_provider"] = lambda: None
