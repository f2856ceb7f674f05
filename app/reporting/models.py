"""Dashboard widgets that admins define in the UI (the built-in ones are code in app.reporting.dashboards)."""

from flask_appbuilder.models.sqla import Model
from flask_babel import lazy_gettext as _
from sqlalchemy import Boolean, Column, Integer, String, Text, true
from sqlalchemy.orm import relationship

from app.core.model_base import Stamped, choice_column, link_table
from app.core.column_types import WIDGET_BUCKETS, WIDGET_CHARTS, WIDGET_MEASURES, WIDGET_SOURCES, WIDGET_WIDTHS

dashboard_widget_role = link_table(
    "dashboard_widget_role", "dashboard_widget", "ab_role", left_column="widget_id", right_column="role_id"
)


class DashboardWidget(Stamped, Model):
    """One chart on the dashboard: a model, a group-by field (dates bucketed), a measure, fixed
    filters, a chart type and the roles that see it. Its data is one GROUP BY query."""

    __audited__ = True

    __tablename__ = "dashboard_widget"

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    source = choice_column(WIDGET_SOURCES, default="Ticket", length=30)
    group_by = Column(String(100), info={"description": _("Leave empty for a number card.")})
    bucket = choice_column(WIDGET_BUCKETS, default="none")
    measure = choice_column(WIDGET_MEASURES, default="count")
    measure_field = Column(String(100))
    filters = Column(
        Text,
        info={
            "description": _(
                "Optional, one condition per line: field = value, field != value, field >= value, "
                "field <= value, or field in value1, value2. Example: type = complaint"
            )
        },
    )
    chart = choice_column(WIDGET_CHARTS, default="bar")
    width = choice_column(WIDGET_WIDTHS, default="half")
    position = Column(Integer, nullable=False, default=100, server_default="100")
    active = Column(Boolean, nullable=False, default=True, server_default=true())
    roles = relationship("Role", secondary=dashboard_widget_role)

    def __str__(self):
        return self.name or ""
