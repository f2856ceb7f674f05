"""Column types and declared choices shared by the data model."""

from flask import g, has_request_context
from flask_babel import lazy_gettext
from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

from app.core.clock import UTC, utcnow  # noqa: F401  (the model's columns default to it)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC in Python, UTC in the database on every backend.

    SQLite has no time zones, so values are stored naive-UTC there and made aware on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Choices:
    """An ordered set of stored codes with translatable labels, declared once on the model.

    Forms, list formatting, API validation and filters all read the same declaration.
    """

    def __init__(self, *pairs):
        self.pairs = tuple(pairs)
        self.codes = tuple(code for code, _ in pairs)
        self._labels = dict(pairs)

    def label(self, code):
        label = self._labels.get(code)
        if label is None:
            return code or ""
        if not has_request_context():
            return str(label)
        # a list page shows a label per row and column: translate each once per request
        cache = g.setdefault("crm_choice_labels", {})
        key = (id(self), code)
        if key not in cache:
            cache[key] = str(label)
        return cache[key]

    def form_choices(self):
        return [(code, str(label)) for code, label in self.pairs]

    def __contains__(self, code):
        return code in self._labels

    def __iter__(self):
        return iter(self.codes)


_ = lazy_gettext

GENDERS = Choices(("male", _("Male")), ("female", _("Female")), ("unknown", _("Unknown")))
CUSTOMER_TYPES = Choices(
    ("owner", _("Owner")),
    ("tenant", _("Tenant")),
    ("commercial", _("Commercial tenant")),
    ("other", _("Other")),
)
CUSTOMER_STATUSES = Choices(("active", _("Active")), ("moved_out", _("Moved out")), ("inactive", _("Inactive")))
UNIT_USES = Choices(("residential", _("Residential")), ("commercial", _("Commercial")), ("parking", _("Parking")))
UNIT_STATUSES = Choices(("occupied", _("Occupied")), ("renovating", _("Renovating")), ("vacant", _("Vacant")))
RESIDENT_RELATIONS = Choices(("owner", _("Owner")), ("tenant", _("Tenant")), ("family", _("Family member")))
TICKET_TYPES = Choices(
    ("repair", _("Repair")),
    ("complaint", _("Complaint")),
    ("suggestion", _("Suggestion")),
    ("inquiry", _("Inquiry")),
    ("maintenance", _("Maintenance")),
)
PRIORITIES = Choices(("high", _("High")), ("medium", _("Medium")), ("low", _("Low")))
TICKET_STATUSES = Choices(
    ("new", _("New")),
    ("assigned", _("Assigned")),
    ("in_progress", _("In progress")),
    ("resolved", _("Resolved")),
    ("closed", _("Closed")),
    ("cancelled", _("Cancelled")),
    ("reopened", _("Reopened")),
)
TICKET_CHANNELS = Choices(
    ("phone", _("Phone")),
    ("walk_in", _("Walk-in")),
    ("wechat", _("WeChat")),
    ("web", _("Web")),
    ("email", _("Email")),
)
TICKET_EVENT_KINDS = Choices(
    ("created", _("Created")),
    ("status", _("Status changed")),
    ("assigned", _("Assigned")),
    ("updated", _("Updated")),
    ("note", _("Note")),
    ("escalated", _("Escalated")),
    ("reminder", _("Reminder from the customer")),
)
COMMUNICATION_CHANNELS = Choices(
    ("phone", _("Phone")),
    ("visit", _("Visit")),
    ("wechat", _("WeChat")),
    ("sms", _("SMS")),
    ("email", _("Email")),
)
FEE_TYPES = Choices(
    ("property", _("Property fee")),
    ("water", _("Water")),
    ("electricity", _("Electricity")),
    ("parking", _("Parking")),
    ("other", _("Other")),
)
BILL_STATUSES = Choices(
    ("unpaid", _("Unpaid")),
    ("partial", _("Partially paid")),
    ("paid", _("Paid")),
    ("written_off", _("Written off")),
)
PAYMENT_METHODS = Choices(
    ("cash", _("Cash")),
    ("wechat", _("WeChat Pay")),
    ("alipay", _("Alipay")),
    ("bank", _("Bank transfer")),
    ("card", _("Bank card")),
)
RATING_SOURCES = Choices(
    ("link", _("Rating link")),
    ("phone", _("By phone")),
    ("visit", _("In person")),
    ("portal", _("Resident portal")),
)
# Channels a notice can go out on, in the default fallback order; in-app is the last resort.
NOTIFY_CHANNELS = Choices(
    ("wechat", _("WeChat")),
    ("sms", _("SMS")),
    ("email", _("Email")),
    ("inapp", _("In-app")),
)
OUTBOX_STATUSES = Choices(
    ("pending", _("Waiting")),
    ("sending", _("Sending")),
    ("sent", _("Sent")),
    ("failed", _("Failed")),
)
TEMPLATE_KEYS = Choices(
    ("assignment_notice", _("Assignment notice")),
    ("escalation_notice", _("Escalation notice")),
    ("completion_notice", _("Completion notice")),
    ("payment_reminder", _("Payment reminder")),
    ("contract_expiry", _("Contract expiry reminder")),
    ("contract_rent_due", _("Rent due reminder")),
    ("return_visit_unsatisfied", _("Unsatisfied return visit")),
    ("birthday_greeting", _("Birthday greeting")),
    ("renovation_inspection_due", _("Renovation inspection due")),
    ("renovation_overrun", _("Renovation works overrunning")),
    ("reminder_notice", _("Reminder from a customer")),
    ("portal_sign_in_code", _("Portal sign-in code")),
)
FEE_METHODS = Choices(
    ("per_area", _("Per m² per month")),
    ("per_unit", _("Fixed per unit per month")),
    ("metered", _("Metered (per unit of use)")),
)
BILL_TO = Choices(("occupant", _("Tenant if any, else owner")), ("owner", _("Owner")), ("tenant", _("Tenant")))
PAYMENT_KINDS = Choices(("payment", _("Payment")), ("reversal", _("Reversal")))
PAYMENT_ORDER_STATUSES = Choices(
    ("created", _("Awaiting payment")),
    ("paid", _("Paid online")),
    ("closed", _("Closed")),
    ("refunded", _("Refunded")),
    ("partially_refunded", _("Partially refunded")),
)
NOTIFICATION_OUTCOMES = Choices(("accepted", _("Accepted")), ("replay", _("Repeated")), ("refused", _("Refused")))
APPROVAL_STATUSES = Choices(
    ("pending", _("Awaiting approval")), ("approved", _("Approved")), ("rejected", _("Rejected"))
)
BILLING_RUN_STATUSES = Choices(
    ("running", _("Running")), ("done", _("Done")), ("failed", _("Failed")), ("cancelled", _("Cancelled"))
)
BROADCAST_STATUSES = Choices(
    ("draft", _("Draft")),
    ("scheduled", _("Scheduled")),
    ("sending", _("Queuing")),
    ("queued", _("Queued")),
)
CHANGE_ACTIONS = Choices(
    ("create", _("Created")),
    ("update", _("Changed")),
    ("delete", _("Deleted")),
    ("login", _("Logged in")),
    ("login_failed", _("Failed login")),
    ("locked", _("Account locked")),
    ("logout", _("Logged out")),
    ("export", _("Exported")),
    ("job", _("Job run")),
)
JOB_STATUSES = Choices(("queued", _("Queued")), ("running", _("Running")), ("done", _("Done")), ("failed", _("Failed")))
# background tasks (app.admin.tasks): the export statuses, and cancelled
TASK_STATUSES = Choices(*JOB_STATUSES.pairs, ("cancelled", _("Cancelled")))

# Dashboard widgets defined in the UI (app.reporting.dashboards): what they count, how, and how they are drawn.
WIDGET_SOURCES = Choices(
    ("Ticket", _("Tickets")),
    ("Customer", _("Customers")),
    ("Unit", _("Units")),
    ("Bill", _("Bills")),
    ("Payment", _("Payments")),
    ("Communication", _("Communications")),
    ("TicketRating", _("Ratings")),
)
WIDGET_BUCKETS = Choices(
    ("none", _("No bucketing")),
    ("day", _("Day")),
    ("week", _("Week")),
    ("month", _("Month")),
)
WIDGET_MEASURES = Choices(
    ("count", _("Count")),
    ("sum", _("Sum")),
    ("avg", _("Average")),
)
WIDGET_CHARTS = Choices(
    ("bar", _("Bar chart")),
    ("line", _("Line chart")),
    ("pie", _("Pie chart")),
    ("number", _("Number card")),
)
WIDGET_WIDTHS = Choices(
    ("half", _("Half width")),
    ("full", _("Full width")),
)

# ---- customer care: contracts, return visits, surveys, greetings
CONTRACT_KINDS = Choices(
    ("lease", _("Lease contract")), ("service", _("Service contract")), ("supplier", _("Supplier contract"))
)
CONTRACT_STATUSES = Choices(
    ("draft", _("Draft")),
    ("pending", _("Awaiting approval")),
    ("active", _("In effect")),
    ("expired", _("Expired")),
    ("terminated", _("Terminated")),
)
PAYMENT_CYCLES = Choices(
    ("monthly", _("Monthly")),
    ("quarterly", _("Quarterly")),
    ("half_yearly", _("Every six months")),
    ("yearly", _("Yearly")),
    ("once", _("Once")),
)
CONTRACT_REMINDER_KINDS = Choices(("expiry", _("Expiry")), ("rent", _("Rent due")))
VISIT_STATUSES = Choices(("pending", _("To visit")), ("done", _("Visited")))
VISIT_RESULTS = Choices(("reached", _("Reached")), ("not_reached", _("Not reached")))
SURVEY_STATUSES = Choices(("draft", _("Draft")), ("sent", _("Sent")), ("closed", _("Closed")))
QUESTION_KINDS = Choices(
    ("rating", _("Rating (1–5)")),
    ("single", _("Single choice")),
    ("multiple", _("Multiple choice")),
    ("text", _("Text")),
)
EQUIPMENT_KINDS = Choices(
    ("lift", _("Lift")),
    ("water_pump", _("Water pump")),
    ("fire", _("Fire system")),
    ("cctv", _("CCTV")),
    ("power", _("Power supply")),
    ("hvac", _("Air conditioning")),
    ("access", _("Access control")),
    ("other", _("Other")),
)
RECURRENCE_UNITS = Choices(("days", _("Days")), ("weeks", _("Weeks")), ("months", _("Months")))
INSPECTION_RESULTS = Choices(("normal", _("Normal")), ("attention", _("Needs attention")), ("fault", _("Fault")))
RENOVATION_STATUSES = Choices(
    ("applied", _("Applied")),
    ("approved", _("Approved")),
    ("rejected", _("Rejected")),
    ("deposit_received", _("Deposit received")),
    ("works", _("Works in progress")),
    ("inspection", _("Awaiting inspection")),
    ("inspected", _("Inspected")),
    ("refunded", _("Deposit refunded")),
    ("withheld", _("Deposit withheld")),
)
ACTIVITY_STATUSES = Choices(
    ("draft", _("Draft")),
    ("published", _("Published")),
    ("cancelled", _("Cancelled")),
)
