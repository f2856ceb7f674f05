"""Application factory: extensions, AppBuilder, security, views, API, CLI — wiring only."""

import logging

from flask import Flask, g, request
from flask_talisman import Talisman

from app.core.clock import timestamp
from app.policy.field_permissions import shown_value
from app.policy.principal import resolve_request_principal

from app.extensions import appbuilder, csrf, db, migrate
from app.policy import accounts
from app.policy import audit
from app.billing import bills as billing
from app.notices import broadcasts, notify
from app.policy import records
from app.policy import scoping
from app.tickets import lifecycle as tickets
from app.core.database import configure_engine, set_read_only
from app.cli import crm_cli
from app.policy.accounts import fab_password_validator
from app.api import register_apis
from app.views import register_views
from app.reporting.views import vendor_blueprint
from app.web.date_fields import picker_blueprint
from app.web.chrome import fragment, navbar_html
from app.portal.views import portal
from app.mobile.views import mobile
from app.policy.accounts import session_expired

# what a page may load: its own scripts (and inline ones carrying the response's nonce), no plugins,
# no framing or form posting to other sites; styles, images and fonts are the app's own files anyway
CONTENT_SECURITY_POLICY = {
    "script-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'self'",
    "form-action": "'self'",
}


def _actor_id():
    user = getattr(g, "user", None)
    return getattr(user, "id", None) if getattr(user, "is_authenticated", False) else None


def create_app(test_config=None):
    import config as settings

    app = Flask(__name__, instance_path=settings.INSTANCE_DIR, instance_relative_config=False)
    app.config.from_object(settings.Config)
    if test_config:
        app.config.update(test_config)
    if not app.config.get("FAB_PASSWORD_COMPLEXITY_VALIDATOR"):
        app.config["FAB_PASSWORD_COMPLEXITY_VALIDATOR"] = fab_password_validator
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = settings.instance_secret_key()
    hops = int(app.config.get("CRM_TRUSTED_PROXIES") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # behind a load balancer the client's address (login throttling, the change history), the
        # scheme and the host come from the X-Forwarded-* headers the trusted proxies add
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    logging.getLogger("flask_appbuilder").setLevel(logging.WARNING)

    db.init_app(app)
    csrf.init_app(app)
    migrate.init_app(app, db, directory=settings.BASE_DIR + "/migrations", render_as_batch=True, compare_type=True)
    records.register()
    tickets.register()
    notify.register()
    broadcasts.register()
    billing.register()
    audit.register()
    scoping.register()
    accounts.register()

    with app.app_context():
        configure_engine(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
        appbuilder.base_template = "crm/base.html"
        appbuilder.init_app(app, db.session)

        register_views(appbuilder)
        register_apis(appbuilder)

        app.register_blueprint(vendor_blueprint(app))

        app.register_blueprint(picker_blueprint(app))

        app.register_blueprint(portal)

        app.register_blueprint(mobile)

    @app.before_request
    def _request_context():
        # first: the request's first transaction (who the user is) begins deferred on a page read
        set_read_only(request.method in ("GET", "HEAD", "OPTIONS"))
        db.session.info["actor_provider"] = _actor_id

    @app.before_request
    def _principal():
        # who sent the request (cookie or bearer token), before any view queries data
        if request.endpoint not in (None, "static") and not request.path.startswith("/static/"):
            resolve_request_principal()

    @app.url_value_preprocessor
    def _record_ids_in_range(endpoint, values):
        # an id no database column can hold names no record (instead of an overflow error)
        for key in ("pk", "ticket_id", "job_id", "notification_id", "record_id"):
            value = (values or {}).get(key)
            if isinstance(value, int) and not -(2**63) <= value < 2**63:
                from flask import abort

                abort(404)
            if isinstance(value, str) and value.lstrip("-").isdigit() and not -(2**63) <= int(value) < 2**63:
                from flask import abort

                abort(404)

    # the security API's own sign-in and token refresh work for anyone; every other API call is checked
    token_endpoints = {"SecurityApi.login", "SecurityApi.refresh"}

    @app.before_request
    def _session_rules():
        """Idle and absolute session timeouts; a password an admin set must be replaced first, on the
        pages and on the API, whether the call comes with the session cookie or a token."""
        from flask import jsonify, redirect, session
        from flask_babel import gettext
        from flask_jwt_extended import verify_jwt_in_request
        from flask_login import current_user, logout_user

        if request.endpoint in (None, "static"):
            return None
        api = request.path.startswith("/api/")
        if current_user.is_authenticated:
            now = timestamp()
            if session_expired(
                session.get("crm_login_at"),
                session.get("crm_seen_at"),
                now,
                app.config["CRM_SESSION_IDLE_MINUTES"],
                app.config["CRM_SESSION_MAX_HOURS"],
                session.get("crm_remember_until"),
            ):
                logout_user()
                session.clear()
                return (jsonify(message="session expired"), 401) if api else redirect(app.appbuilder.get_url_for_login)
            if now - session.get("crm_seen_at", now) > 60:
                session["crm_seen_at"] = now  # refreshed at most once a minute
        elif not api or request.endpoint in token_endpoints or verify_jwt_in_request(optional=True) is None:
            # no one signed in; or a token request, whose account is loaded (and a revoked token
            # refused, app.policy.permissions) here so that the rule below holds for it too
            return None
        allowed = {
            "ResetMyPasswordView.this_form_get",
            "ResetMyPasswordView.this_form_post",
            "AuthDBView.logout",
            "AuthDBView.login",
            "InboxView.unread",
        } | token_endpoints
        if g.get("crm_must_change_password") and request.endpoint not in allowed:
            if api:
                return jsonify(
                    message=gettext(
                        "Choose your own password first: sign in on the web pages and "
                        "change the password you were given."
                    )
                ), 403
            return redirect("/resetmypassword/form")
        return None

    # no sniffing of types, no framing by other sites, no full URLs leaking to other sites; scripts
    # only from this app, inline ones only with this response's nonce (FAB's templates read it through
    # baselib.get_nonce → csp_nonce, which Talisman provides)
    Talisman(
        app,
        force_https=app.config["CRM_FORCE_HTTPS"],
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        frame_options="SAMEORIGIN",
        referrer_policy="same-origin",
        content_security_policy=CONTENT_SECURITY_POLICY,
        content_security_policy_nonce_in=["script-src"],
    )

    @app.teardown_request
    def _end_request_context(exc):
        set_read_only(False)

    @app.errorhandler(413)
    def _too_large(error):
        from flask import flash, redirect
        from flask_babel import gettext

        flash(gettext("The file is larger than %(mb)s MB.", mb=int(app.config["CRM_MAX_ATTACHMENT_MB"])), "danger")
        # back to the form; only our own pages
        target = request.referrer if (request.referrer or "").startswith(request.host_url) else "/"
        return redirect(target)

    # custom pages print a record's field through the field levels: {{ field(ticket, "description") }}
    app.jinja_env.globals["field"] = shown_value
    app.jinja_env.globals["crm_navbar"] = navbar_html
    app.jinja_env.globals["crm_fragment"] = fragment

    app.cli.add_command(crm_cli)
    return app
