"""通知公告: the broadcasts sent to the resident, newest first; opening one records that it was read."""

from flask import abort, render_template, url_for
from flask_babel import lazy_gettext as _

from app.core.clock import utcnow
from app.extensions import db
from app.portal.blueprint import portal, tile
from app.portal.session import current_customer_id, resident_required
from app.notices.resident_notices import notices_for, open_notice


@portal.route("/notices")
@resident_required
def notices():
    items = notices_for(db.session, current_customer_id())
    return render_template("portal/notices.html", notices=items, title=_("Notices"), back=url_for("portal.home"))


@portal.route("/notices/<int:broadcast_id>")
@resident_required
def notice(broadcast_id):
    item = open_notice(db.session, current_customer_id(), broadcast_id, utcnow())
    if item is None:
        abort(404)
    return render_template("portal/notice.html", notice=item, title=_("Notices"), back=url_for("portal.notices"))


tile("portal.notices", _("Notices"), "📢")
