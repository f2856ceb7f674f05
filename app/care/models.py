"""Customer care: suppliers and contracts, return visits after a request, satisfaction surveys."""

from flask_appbuilder.models.mixins import FileColumn
from flask_appbuilder.models.sqla import Model
from flask_babel import lazy_gettext as _
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from app.core.model_base import Money, Stamped, choice_column, link_table, segment_tables
from app.core.column_types import (
    CONTRACT_KINDS,
    CONTRACT_REMINDER_KINDS,
    CONTRACT_STATUSES,
    CUSTOMER_TYPES,
    PAYMENT_CYCLES,
    QUESTION_KINDS,
    RENOVATION_STATUSES,
    SURVEY_STATUSES,
    TICKET_TYPES,
    VISIT_RESULTS,
    VISIT_STATUSES,
    UTCDateTime,
    utcnow,
)


class Supplier(Stamped, Model):
    """供应商: a firm the property company buys services from (lift maintenance, cleaning …)."""

    __audited__ = True

    __tablename__ = "supplier"
    __lookup__ = ("name", "contact", "phone")

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    contact = Column(String(50))
    phone = Column(String(30), info={"check": "phone"})
    email = Column(String(120), info={"check": "email"})
    services = Column(String(200))
    notes = Column(Text)

    def __str__(self):
        return self.name or ""


contract_unit = link_table("contract_unit", "contract", "unit", index_right=True)


class Contract(Stamped, Model):
    """合同: a lease, service or supplier contract; approved by a supervisor before it takes effect.

    The status moves only through app.care.contracts (submit, approve, reject, terminate, and the
    daily job that marks contracts past their end date expired).
    """

    __audited__ = True

    __tablename__ = "contract"
    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="ck_contract_dates"),
        CheckConstraint("amount >= 0", name="ck_contract_amount"),
        Index("ix_contract_status_end", "status", "end_date"),
    )
    __display_relations__ = ("customer", "supplier", "responsible")
    __lookup__ = ("number", "title")

    id = Column(Integer, primary_key=True)
    number = Column(String(30), nullable=False, unique=True)
    title = Column(String(200), nullable=False)
    kind = choice_column(CONTRACT_KINDS, default="lease")
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="RESTRICT"), index=True)
    customer = relationship("Customer", backref="contracts")
    supplier_id = Column(Integer, ForeignKey("supplier.id", ondelete="RESTRICT"), index=True)
    supplier = relationship("Supplier", backref="contracts")
    units = relationship("Unit", secondary=contract_unit, order_by="Unit.number")
    start_date = Column(Date, nullable=False)
    end_date = Column(Date, nullable=False)
    amount = Column(Money, nullable=False, info={"check": "non_negative"})  # per payment cycle
    payment_cycle = choice_column(PAYMENT_CYCLES, default="monthly")
    attachment = Column(FileColumn)
    status = choice_column(CONTRACT_STATUSES, default="draft")
    responsible_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    responsible = relationship("User", foreign_keys=[responsible_id])
    remind_days = Column(Integer, nullable=False, default=30)  # before the end date
    rent_remind_days = Column(Integer, nullable=False, default=7)  # before each rent due date
    submitted_at = Column(UTCDateTime)
    approved_at = Column(UTCDateTime)
    approved_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    approved_by = relationship("User", foreign_keys=[approved_by_id])
    terminated_at = Column(UTCDateTime)
    notes = Column(Text)

    reminders = relationship("ContractReminder", back_populates="contract", passive_deletes="all")

    __str_fields__ = ("number", "title")  # what __str__ prints: a relation shows them

    def __str__(self):
        return f"{self.number} {self.title}" if self.number else (self.title or "")


class ContractReminder(Model):
    """One reminder sent for a contract: the unique (contract, kind, due date) makes the job safe to repeat."""

    __audited__ = True

    __tablename__ = "contract_reminder"
    __table_args__ = (UniqueConstraint("contract_id", "kind", "due_date", name="uq_contract_reminder"),)
    __display_relations__ = ("contract",)

    id = Column(Integer, primary_key=True)
    contract_id = Column(Integer, ForeignKey("contract.id", ondelete="CASCADE"), nullable=False)
    contract = relationship("Contract", back_populates="reminders")
    kind = choice_column(CONTRACT_REMINDER_KINDS, default="expiry")
    due_date = Column(Date, nullable=False)
    sent_at = Column(UTCDateTime, nullable=False, default=utcnow)
    recipients = Column(Integer, nullable=False, default=0)

    def __str__(self):
        return f"{CONTRACT_REMINDER_KINDS.label(self.kind)} {self.due_date}"


class ReturnVisitRule(Stamped, Model):
    """回访规则: which closed requests of a type get a return visit, after how long, with what script.

    ``every_nth`` = 1 visits every request; 5 visits about one in five, chosen by a hash of the
    ticket number (random-looking, but the same ticket is always in or out of the sample).
    """

    __audited__ = True

    __tablename__ = "return_visit_rule"
    __table_args__ = (
        CheckConstraint("every_nth >= 1", name="ck_return_visit_rule_every_nth"),
        CheckConstraint("delay_hours >= 0", name="ck_return_visit_rule_delay"),
    )

    id = Column(Integer, primary_key=True)
    ticket_type = Column(String(20), nullable=False, unique=True, info={"choices": TICKET_TYPES})
    every_nth = Column(Integer, nullable=False, default=1)
    delay_hours = Column(Integer, nullable=False, default=24)
    script = Column(Text, nullable=False)
    active = Column(Boolean, nullable=False, default=True)

    def __str__(self):
        return TICKET_TYPES.label(self.ticket_type)


class ReturnVisit(Stamped, Model):
    """回访任务: a call to the customer after a request is finished, and what they said."""

    __audited__ = True

    __tablename__ = "return_visit"
    __table_args__ = (Index("ix_return_visit_status_due", "status", "due_at"),)
    __display_relations__ = ("ticket", "customer", "visited_by")

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("ticket.id", ondelete="CASCADE"), nullable=False, unique=True)
    ticket = relationship("Ticket", backref="return_visits")
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    customer = relationship("Customer")
    script = Column(Text)
    due_at = Column(UTCDateTime, nullable=False)
    status = choice_column(VISIT_STATUSES, default="pending")
    result = choice_column(VISIT_RESULTS, nullable=True)
    satisfied = Column(Boolean)
    notes = Column(Text)
    visited_at = Column(UTCDateTime)
    visited_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    visited_by = relationship("User")

    def __str__(self):
        return str(self.ticket or "")


survey_building, survey_tag = segment_tables("survey")


class Survey(Stamped, Model):
    """满意度调查: a questionnaire sent to a segment of customers; each gets a personal link.

    Surveys with the same ``series`` are rounds of one survey; the results page shows the trend.
    """

    __audited__ = True

    __tablename__ = "survey"
    __lookup__ = ("title",)

    id = Column(Integer, primary_key=True)
    title = Column(String(100), nullable=False)
    series = Column(String(100))
    intro = Column(Text)
    buildings = relationship("Building", secondary=survey_building, order_by="Building.code")
    tags = relationship("Tag", secondary=survey_tag, order_by="Tag.name")
    customer_type = choice_column(CUSTOMER_TYPES, nullable=True)
    link_days = Column(Integer, nullable=False, default=14)
    status = choice_column(SURVEY_STATUSES, default="draft")
    sent_at = Column(UTCDateTime)
    recipient_count = Column(Integer)
    questions = relationship(
        "SurveyQuestion", back_populates="survey", order_by="SurveyQuestion.position", passive_deletes="all"
    )

    # segment criteria a survey does not use (app.notices.broadcasts.segment reads them)
    saved_view = None
    min_arrears = None

    def __str__(self):
        return self.title or ""


class SurveyQuestion(Model):
    __audited__ = True
    __tablename__ = "survey_question"
    __table_args__ = (
        UniqueConstraint(
            "survey_id",
            "position",
            name="uq_survey_question_position",
            info={"field": "position", "message": _("This survey already has a question at this position.")},
        ),
    )
    __display_relations__ = ("survey",)

    id = Column(Integer, primary_key=True)
    survey_id = Column(Integer, ForeignKey("survey.id", ondelete="CASCADE"), nullable=False)
    survey = relationship("Survey", back_populates="questions")
    position = Column(Integer, nullable=False, default=1)
    text = Column(String(300), nullable=False)
    kind = choice_column(QUESTION_KINDS, default="rating")
    options = Column(Text)  # single / multiple choice: one option per line
    required = Column(Boolean, nullable=False, default=True)

    @property
    def option_list(self):
        return [line.strip() for line in (self.options or "").splitlines() if line.strip()]

    def __str__(self):
        return f"{self.position}. {self.text}"


class SurveyRecipient(Model):
    """One customer a survey went to; ``answered_at`` is set once, when they answer."""

    __audited__ = True

    __tablename__ = "survey_recipient"
    __table_args__ = (UniqueConstraint("survey_id", "customer_id", name="uq_survey_recipient"),)
    __display_relations__ = ("survey", "customer")

    id = Column(Integer, primary_key=True)
    survey_id = Column(Integer, ForeignKey("survey.id", ondelete="CASCADE"), nullable=False)
    survey = relationship("Survey", backref="recipients")
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True)
    customer = relationship("Customer")
    sent_at = Column(UTCDateTime, nullable=False, default=utcnow)
    answered_at = Column(UTCDateTime)

    def __str__(self):
        return f"{self.survey or ''} {self.customer or ''}"


class SurveyAnswer(Model):
    __audited__ = True
    __tablename__ = "survey_answer"
    __table_args__ = (
        UniqueConstraint("recipient_id", "question_id", name="uq_survey_answer"),
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="ck_survey_answer_rating"),
    )
    __display_relations__ = ("question", "recipient")

    id = Column(Integer, primary_key=True)
    recipient_id = Column(Integer, ForeignKey("survey_recipient.id", ondelete="CASCADE"), nullable=False)
    recipient = relationship("SurveyRecipient", backref="answers")
    question_id = Column(Integer, ForeignKey("survey_question.id", ondelete="CASCADE"), nullable=False, index=True)
    question = relationship("SurveyQuestion")
    rating = Column(Integer)
    choices = Column(Text)  # the chosen options, one per line
    text = Column(Text)

    def __str__(self):
        return str(self.rating or self.choices or self.text or "")


class Holiday(Stamped, Model):
    """A holiday the firm greets its customers on (春节, 中秋 …), with the greeting to send that day."""

    __audited__ = True

    __tablename__ = "holiday"
    __table_args__ = (
        UniqueConstraint(
            "date",
            "name",
            name="uq_holiday_date_name",
            info={"field": "name", "message": _("This holiday is already on that date.")},
        ),
    )

    id = Column(Integer, primary_key=True)
    name = Column(String(50), nullable=False)
    date = Column(Date, nullable=False, index=True)
    greeting_subject = Column(String(200))
    greeting_body = Column(Text)  # {customer_name}; empty: listed for staff only, nothing is sent
    active = Column(Boolean, nullable=False, default=True)

    def __str__(self):
        return f"{self.name} {self.date}" if self.date else (self.name or "")


class Renovation(Stamped, Model):
    """装修: a unit's renovation from application to the deposit's refund or withholding.

    The status moves only through app.care.renovation; the unit is "renovating" while the works run and
    "occupied" once the deposit is settled.
    """

    __audited__ = True

    __tablename__ = "renovation"
    __table_args__ = (
        CheckConstraint("deposit >= 0", name="ck_renovation_deposit"),
        CheckConstraint("withheld_amount IS NULL OR withheld_amount >= 0", name="ck_renovation_withheld_amount"),
        Index("ix_renovation_status", "status"),
    )
    __display_relations__ = ("unit", "unit.building", "customer", "responsible")

    id = Column(Integer, primary_key=True)
    unit_id = Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False, index=True)
    unit = relationship("Unit", backref="renovations")
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="RESTRICT"), nullable=False, index=True)
    customer = relationship("Customer", backref="renovations")
    contractor = Column(String(100))
    contractor_phone = Column(String(30), info={"check": "phone"})
    scope = Column(Text)
    status = choice_column(RENOVATION_STATUSES, default="applied")
    deposit = Column(Money, nullable=False, default=0, info={"check": "non_negative"})
    deposit_received_at = Column(UTCDateTime)
    works_start = Column(Date, nullable=False)
    works_end = Column(Date, nullable=False)
    started_on = Column(Date)
    finished_on = Column(Date)
    inspection_due = Column(Date)
    inspected_at = Column(UTCDateTime)
    inspection_notes = Column(Text)
    withheld_amount = Column(Money, info={"check": "non_negative"})
    withheld_reason = Column(String(255))
    settled_at = Column(UTCDateTime)
    responsible_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    responsible = relationship("User", foreign_keys=[responsible_id])
    approved_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    approved_by = relationship("User", foreign_keys=[approved_by_id])
    approved_at = Column(UTCDateTime)
    last_reminded_on = Column(Date)  # the reminder job's claim: at most one reminder a day

    def __str__(self):
        return f"{self.unit or ''} {RENOVATION_STATUSES.label(self.status)}"
