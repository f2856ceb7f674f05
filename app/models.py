"""The declarative data model: the source of truth for pages, API, filters and exports.

Column ``info`` carries what the generated UI derives from the model:
``choices`` (a Choices set), ``check`` (a rule in app.core.validation).
``__display_relations__`` names the relations ``__str__`` reads, so list pages eager-load them.
"""

# The tables are declared in app/model/, one module per domain (property, customers, staff,
# tickets, billing, notices, admin, dashboards, care, facilities); this module is where the rest
# of the app imports them from.
from flask_appbuilder.models.sqla import Model  # noqa: F401

from app.core.model_base import Money, Stamped, choice_column  # noqa: F401
from app.property.models import Building, Unit  # noqa: F401
from app.customers.models import Tag, Customer, CustomerUnit, customer_tag  # noqa: F401
from app.staff.models import (
    Department,
    StaffProfile,
    DispatchRule,
    DutyShift,
    SlaPolicy,
    SystemSetting,
    SeededDefault,
    staff_building,
)  # noqa: F401
from app.tickets.models import (
    CUSTOMER_VISIBLE_KINDS,
    OPEN_STATUSES,
    Ticket,
    TicketAttachment,
    TicketEvent,
    Communication,
    TicketRating,
    communication_ticket,
)  # noqa: F401
from app.billing.models import (  # noqa: F401
    Bill,
    ArrearsSummary,
    Payment,
    PaymentOrder,
    PaymentNotification,
    FeeRule,
    MeterReading,
    BillingRun,
    WriteOff,
)
from app.notices.models import (
    MessageTemplate,
    Notification,
    OutboxMessage,
    Broadcast,
    broadcast_building,
    broadcast_tag,
)  # noqa: F401
from app.admin.models import (
    NumberSequence,
    ExportLog,
    ExportJob,
    BackgroundTask,
    FieldPermission,
    SavedListView,
    ChangeLog,
    AccountSecurity,
    LoginThrottle,
    LoginNameLock,
    JobRun,
    PasswordResetToken,
    AccountMail,
)  # noqa: F401
from app.reporting.models import DashboardWidget, dashboard_widget_role  # noqa: F401
from app.care.models import (  # noqa: F401
    Supplier,
    Contract,
    ContractReminder,
    contract_unit,
    ReturnVisitRule,
    ReturnVisit,
    Survey,
    SurveyQuestion,
    SurveyRecipient,
    SurveyAnswer,
    survey_building,
    survey_tag,
    Holiday,
    Renovation,
)
from app.facilities.models import Equipment, MaintenancePlan, MaintenanceOccurrence  # noqa: F401
from app.portal.models import PortalSignInCode, PortalSignInAttempt, PortalFamilyLink  # noqa: F401
from app.notices.models import NoticeRead  # noqa: F401
from app.activities.models import Activity, ActivitySignUp, activity_building, activity_tag  # noqa: F401
