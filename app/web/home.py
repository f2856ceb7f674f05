"""The start page (FAB_INDEX_VIEW): managers and supervisors land on the dashboard."""

from flask import g, redirect, url_for
from flask_appbuilder import IndexView, expose

from app.policy.permissions import RESOURCE_DASHBOARD


class HomeView(IndexView):
    @expose("/")
    def index(self):
        if getattr(g.user, "is_authenticated", False) and self.appbuilder.sm.has_access("can_read", RESOURCE_DASHBOARD):
            return redirect(url_for("DashboardView.show"))
        return super().index()
