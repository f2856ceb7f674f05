"""社区活动: the activities open to the resident, with places left; sign up and cancel."""

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import lazy_gettext as _

from app.activities import sign_ups as activities
from app.core.clock import utcnow
from app.core.errors import DomainError
from app.extensions import db
from app.portal.blueprint import portal, tile
from app.portal.session import current_customer_id, resident_required


@portal.route("/activities")
@resident_required
def activity_list():
    listings = activities.activities_for(db.session, current_customer_id(), utcnow())
    return render_template(
        "portal/activities.html",
        listings=listings,
        now=utcnow(),
        title=_("Community activities"),
        back=url_for("portal.home"),
    )


@portal.route("/activities/<int:activity_id>")
@resident_required
def activity_page(activity_id):
    try:
        listing = activities.activity_for(db.session, activity_id, current_customer_id())
    except activities.ActivityNotFound:
        abort(404)
    return render_template(
        "portal/activity.html",
        listing=listing,
        now=utcnow(),
        title=_("Community activities"),
        back=url_for("portal.activity_list"),
    )


@portal.route("/activities/<int:activity_id>/sign-up", methods=["POST"])
@resident_required
def activity_sign_up(activity_id):
    try:
        activities.sign_up(db.session, activity_id, current_customer_id(), utcnow())
    except activities.ActivityNotFound:
        abort(404)
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "danger")
    else:
        flash(str(_("You have signed up.")), "success")
    return redirect(url_for("portal.activity_page", activity_id=activity_id))


@portal.route("/activities/sign-ups/<int:sign_up_id>/cancel", methods=["POST"])
@resident_required
def activity_cancel(sign_up_id):
    try:
        activity_id = activities.cancel_sign_up(db.session, sign_up_id, current_customer_id(), utcnow())
    except activities.ActivityNotFound:
        abort(404)
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "danger")
        return redirect(url_for("portal.activity_list"))
    flash(str(_("Your sign-up has been cancelled.")), "success")
    return redirect(url_for("portal.activity_page", activity_id=activity_id))


tile("portal.activity_list", _("Community activities"), "🎉")
