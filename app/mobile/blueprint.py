"""The mobile view's blueprint: every page needs a signed-in staff user who may read tickets."""

from flask import Blueprint, abort, current_app, redirect, request
from flask_login import current_user

from app.policy.permissions import RESOURCE_TICKET

mobile = Blueprint("mobile", __name__, url_prefix="/m")


def may(action, resource=RESOURCE_TICKET):
    """The signed-in user's permission, as the desktop pages check it (FAB's security manager)."""
    return current_app.appbuilder.sm.has_access(action, resource)


@mobile.before_request
def _staff_only():
    # a staff login (cookie), not a resident's portal session: that one never signs anyone in here
    if not current_user.is_authenticated:
        return redirect(current_app.appbuilder.get_url_for_login_with(request.full_path.rstrip("?")))
    if not may("can_read"):
        abort(403)
    return None


@mobile.context_processor
def _sign_out():
    return {"sign_out_url": current_app.appbuilder.get_url_for_logout}
