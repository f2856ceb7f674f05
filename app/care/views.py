"""Customer care pages (客户关怀): suppliers, contracts and their approval, return visits, surveys.

Declarations and thin actions only; the rules are in app.care.contracts, app.tickets.return_visits, app.care.surveys.
"""

import os

from flask import abort, current_app, flash, g, redirect, render_template, request, send_file, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.actions import action
from flask_babel import lazy_gettext as _
from wtforms import BooleanField, SelectField
from wtforms.validators import Optional

from app import models
from app.care import contracts, renovation, surveys
from app.care import greetings as care
from app.core.column_types import RENOVATION_STATUSES, utcnow
from app.core.errors import DomainError
from app.extensions import db
from app.facilities import maintenance
from app.policy.principal import as_link_holder
from app.policy.permissions import (
    RESOURCE_CARE_REMINDERS,
    RESOURCE_CONTRACT,
    RESOURCE_CONTRACT_REMINDER,
    RESOURCE_EQUIPMENT,
    RESOURCE_HOLIDAY,
    RESOURCE_MAINTENANCE_OCCURRENCE,
    RESOURCE_MAINTENANCE_PLAN,
    RESOURCE_RENOVATION,
    RESOURCE_RETURN_VISIT,
    RESOURCE_RETURN_VISIT_RULE,
    RESOURCE_SUPPLIER,
    RESOURCE_SURVEY,
    RESOURCE_SURVEY_QUESTION,
    RESOURCE_SURVEY_RECIPIENT,
)
from app.tickets import return_visits
from app.web.interface import CrmInterface
from app.web.model_view import CrmView
from app.core.clock import local_today
from app.admin.tasks import enqueue
from app.admin.tasks import task_for
from app.core.clock import local_zone
from app.web.exports import record_export, write_xlsx


def _local_today():

    return local_today()


def _each(items):
    return items if isinstance(items, list) else [items]


class SupplierView(CrmView):
    datamodel = CrmInterface(models.Supplier)
    class_permission_name = RESOURCE_SUPPLIER
    list_columns = ["name", "contact", "phone", "services"]
    add_columns = edit_columns = ["name", "contact", "phone", "email", "services", "notes"]
    show_columns = add_columns
    search_columns = ["name", "contact", "phone", "services"]
    order_columns = ["name", "contact"]
    base_order = ("name", "asc")
    quick_search = ("name", "contact", "phone")


class ContractReminderView(CrmView):
    datamodel = CrmInterface(models.ContractReminder)
    class_permission_name = RESOURCE_CONTRACT_REMINDER
    label_columns = {"kind": _("Reminder")}
    base_permissions = ["can_read"]
    list_columns = ["contract", "kind", "due_date", "sent_at", "recipients"]
    show_columns = list_columns
    search_columns = ["kind", "due_date", "sent_at"]
    order_columns = ["kind", "due_date", "sent_at"]
    base_order = ("sent_at", "desc")


class ContractView(CrmView):
    """合同管理: drafts are edited, then submitted; a supervisor approves; the job expires and reminds."""

    datamodel = CrmInterface(models.Contract)
    class_permission_name = RESOURCE_CONTRACT
    label_columns = {"kind": _("Contract type")}
    list_columns = [
        "number",
        "title",
        "kind",
        "customer",
        "supplier",
        "start_date",
        "end_date",
        "amount",
        "payment_cycle",
        "status",
        "responsible",
    ]
    add_columns = edit_columns = [
        "number",
        "title",
        "kind",
        "customer",
        "supplier",
        "units",
        "start_date",
        "end_date",
        "amount",
        "payment_cycle",
        "responsible",
        "remind_days",
        "rent_remind_days",
        "attachment",
        "notes",
    ]
    show_columns = [
        "number",
        "title",
        "kind",
        "status",
        "customer",
        "supplier",
        "units",
        "start_date",
        "end_date",
        "amount",
        "payment_cycle",
        "responsible",
        "remind_days",
        "rent_remind_days",
        "attachment",
        "notes",
        "submitted_at",
        "approved_by",
        "approved_at",
        "terminated_at",
        "created_at",
        "updated_at",
    ]
    search_columns = [
        "number",
        "title",
        "kind",
        "status",
        "customer",
        "supplier",
        "start_date",
        "end_date",
        "responsible",
    ]
    order_columns = ["number", "title", "kind", "start_date", "end_date", "amount", "status"]
    base_order = ("end_date", "asc")
    quick_search = ("number", "title", "customer.name", "supplier.name")
    related_views = [ContractReminderView]
    description_columns = {
        "amount": _("The amount due each payment cycle."),
        "remind_days": _("Remind the responsible staff this many days before the end date."),
        "rent_remind_days": _("Remind the responsible staff this many days before each rent due date."),
    }

    def check_record(self, item):
        contracts.check_editable(item)
        contracts.check_contract(item)

    def _each_contract(self, items, do, done_message):
        count = 0
        for item in _each(items):
            try:
                do(item)
                count += 1
            except DomainError as error:
                db.session.rollback()
                flash(f"{item.number}: {error}", "danger")
        if count:
            flash(str(done_message % {"count": count}), "success")
        return redirect(request.referrer or url_for(".list"))

    @action(
        "submit",
        _("Submit for approval"),
        _("Submit the selected contracts for approval?"),
        "fa-paper-plane",
        multiple=True,
        single=True,
    )
    def submit(self, items):
        return self._each_contract(
            items, lambda c: contracts.submit(db.session, c, utcnow()), _("%(count)s contracts submitted for approval.")
        )

    @action("approve", _("Approve"), _("Approve the selected contracts?"), "fa-check", multiple=True, single=True)
    def approve(self, items):
        return self._each_contract(
            items,
            lambda c: contracts.approve(db.session, c, g.user, utcnow(), _local_today()),
            _("%(count)s contracts approved."),
        )

    @action(
        "reject", _("Reject"), _("Send the selected contracts back as drafts?"), "fa-times", multiple=True, single=True
    )
    def reject(self, items):
        return self._each_contract(
            items, lambda c: contracts.reject(db.session, c, g.user), _("%(count)s contracts sent back as drafts.")
        )

    @action("terminate", _("Terminate"), _("Terminate the selected contracts?"), "fa-ban", multiple=True, single=True)
    def terminate(self, items):
        return self._each_contract(
            items, lambda c: contracts.terminate(db.session, c, g.user, utcnow()), _("%(count)s contracts terminated.")
        )


class ReturnVisitRuleView(CrmView):
    datamodel = CrmInterface(models.ReturnVisitRule)
    class_permission_name = RESOURCE_RETURN_VISIT_RULE
    list_columns = ["ticket_type", "every_nth", "delay_hours", "active"]
    add_columns = edit_columns = ["ticket_type", "every_nth", "delay_hours", "script", "active"]
    show_columns = add_columns
    order_columns = ["ticket_type", "every_nth", "delay_hours"]
    search_columns = ["ticket_type", "active"]
    add_form_extra_fields = edit_form_extra_fields = {"active": BooleanField(_("Enabled"), default=True)}
    description_columns = {
        "every_nth": _("1: every request of this type; 5: about one in five, chosen at random but always the same."),
        "delay_hours": _("Hours after the request is resolved."),
        "script": _("What the service desk says on the call."),
    }

    def check_record(self, item):
        if item.every_nth is not None and not 1 <= item.every_nth <= 1000:
            raise DomainError(_("Between 1 and 1000."), field="every_nth")
        if item.delay_hours is not None and not 0 <= item.delay_hours <= 24 * 90:
            raise DomainError(_("Between 0 and 2160 hours."), field="delay_hours")


def _yes_no(value):
    return {"1": True, "0": False, "True": True, "False": False, True: True, False: False}.get(value)


SATISFIED_FIELD = SelectField(
    _("Customer satisfied?"),
    coerce=_yes_no,
    validators=[Optional()],
    choices=[("", "—"), ("1", _("Satisfied")), ("0", _("Not satisfied"))],
)


class ReturnVisitView(CrmView):
    """回访任务: the visits due, with the call script; editing one records the result of the call."""

    datamodel = CrmInterface(models.ReturnVisit)
    class_permission_name = RESOURCE_RETURN_VISIT
    base_permissions = ["can_read", "can_edit", "can_export"]
    list_columns = ["ticket", "customer", "due_at", "status", "result", "satisfied", "visited_by", "visited_at"]
    edit_columns = ["result", "satisfied", "notes"]
    show_columns = [
        "ticket",
        "customer",
        "script",
        "due_at",
        "status",
        "result",
        "satisfied",
        "notes",
        "visited_by",
        "visited_at",
    ]
    search_columns = ["status", "result", "satisfied", "due_at", "visited_at"]
    order_columns = ["due_at", "status", "visited_at"]
    base_order = ("due_at", "asc")
    quick_search = ("ticket.number", "ticket.title", "customer.name", "customer.phone")
    edit_form_extra_fields = {"satisfied": SATISFIED_FIELD}
    description_columns = {"satisfied": _("When reached: a customer not satisfied reopens or escalates the request.")}

    def check_record(self, item):
        from sqlalchemy import inspect

        history = inspect(item).attrs["status"].history
        if (history.deleted[0] if history.deleted else item.status) == "done":
            raise DomainError(_("This return visit has already been recorded."))
        return_visits.apply_result(db.session, item, g.user.id, utcnow())


class SurveyQuestionView(CrmView):
    datamodel = CrmInterface(models.SurveyQuestion)
    class_permission_name = RESOURCE_SURVEY_QUESTION
    label_columns = {"kind": _("Question type")}
    list_columns = ["survey", "position", "text", "kind", "required"]
    add_columns = edit_columns = ["survey", "position", "text", "kind", "options", "required"]
    show_columns = add_columns
    order_columns = ["position", "kind"]
    search_columns = ["survey", "kind", "text"]
    base_order = ("position", "asc")
    description_columns = {"options": _("Choice questions: one option per line.")}
    # a plain tick box (FAB would make a non-nullable boolean a box that must be ticked)
    add_form_extra_fields = edit_form_extra_fields = {"required": BooleanField(_("Required"), default=True)}

    def check_record(self, item):
        surveys.check_question(item)

    def pre_delete(self, item):
        surveys.check_question(item)
        super().pre_delete(item)


class SurveyRecipientView(CrmView):
    datamodel = CrmInterface(models.SurveyRecipient)
    class_permission_name = RESOURCE_SURVEY_RECIPIENT
    base_permissions = ["can_read", "can_export"]
    list_columns = ["survey", "customer", "sent_at", "answered_at"]
    show_columns = list_columns
    search_columns = ["survey", "sent_at", "answered_at"]
    order_columns = ["sent_at", "answered_at"]
    base_order = ("sent_at", "desc")


class SurveyView(CrmView):
    """满意度调查: build the questionnaire, choose the customers, send, then read the results."""

    datamodel = CrmInterface(models.Survey)
    class_permission_name = RESOURCE_SURVEY
    list_columns = ["title", "series", "status", "sent_at", "recipient_count"]
    add_columns = edit_columns = ["title", "series", "intro", "buildings", "tags", "customer_type", "link_days"]
    show_columns = [
        "title",
        "series",
        "intro",
        "status",
        "buildings",
        "tags",
        "customer_type",
        "link_days",
        "sent_at",
        "recipient_count",
    ]
    search_columns = ["title", "series", "status", "sent_at"]
    order_columns = ["title", "series", "status", "sent_at"]
    base_order = ("created_at", "desc")
    related_views = [SurveyQuestionView, SurveyRecipientView]
    description_columns = {
        "series": _("Rounds of the same survey share a series name; the results show the trend across rounds."),
        "buildings": _("Customers living in any of these buildings (empty: all buildings)."),
        "tags": _("Customers with any of these tags (empty: no tag condition)."),
        "link_days": _("How many days each personal link stays valid."),
    }

    def check_record(self, item):
        surveys.check_survey(item)

    def post_add(self, item):
        self._added_id = item.id

    def post_add_redirect(self):
        # straight to the new survey's page, where its questions are added
        added, self._added_id = getattr(self, "_added_id", None), None
        return redirect(url_for(".show", pk=added)) if added else super().post_add_redirect()

    @action(
        "send_survey",
        _("Send to customers"),
        _("Send the survey to its customers now?"),
        "fa-paper-plane",
        multiple=False,
        single=True,
    )
    def send_survey(self, item):
        return self._send(item)

    @expose("/send/<int:pk>", methods=["POST"])
    @has_access
    def send(self, pk):
        return self._send(self.datamodel.get(pk) or abort(404))

    def _send(self, item):
        """Queued as a background task (app.care.surveys.SurveySendTask); the results page shows its progress."""

        try:
            task = enqueue(db.session, g.user, "survey_send", {"survey_id": item.id}, utcnow())
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "danger")
            return redirect(url_for(".results", pk=item.id))
        return redirect(url_for(".results", pk=item.id, task=task.id))

    @action(
        "close_survey",
        _("Close survey"),
        _("Close the survey? Its links stop working."),
        "fa-lock",
        multiple=False,
        single=True,
    )
    def close_survey(self, item):
        try:
            surveys.close(db.session, item)
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "danger")
        return redirect(url_for(".results", pk=item.id))

    @action("open_results", _("Results"), icon="fa-chart-bar", multiple=False, single=True)
    def open_results(self, item):
        return redirect(url_for(".results", pk=item.id))

    @expose("/results/<int:pk>")
    @has_access
    def results(self, pk):

        survey = self.datamodel.get(pk) or abort(404)
        task = (
            task_for(db.session, int(request.args["task"]), g.user.id)
            if request.args.get("task", "").isdigit()
            else None
        )
        return self.render_template(
            "crm/survey_results.html",
            survey=survey,
            task=task,
            results=surveys.results(db.session, survey),
            figures=surveys.response_figures(db.session, survey),
            trend=surveys.trend(db.session, survey),
        )

    @expose("/export_answers/<int:pk>")
    @has_access
    def export_answers(self, pk):

        survey = self.datamodel.get(pk) or abort(404)
        labels, rows = surveys.answer_rows(db.session, survey)
        path, count = write_xlsx(labels, labels, rows, sheet_name=str(_("Answers")), zone=local_zone())
        record_export(db.session, g.user.id, "SurveyAnswer", f"survey={survey.id}", count, utcnow())
        response = send_file(
            path,
            as_attachment=True,
            download_name=f"survey-{survey.id}.xlsx",
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response.call_on_close(lambda: os.path.exists(path) and os.remove(path))
        return response


class SurveyAnswerPage(BaseView):
    """The customer's questionnaire: no login, a signed personal link, answered once."""

    route_base = "/survey"
    default_view = "answer"

    @expose("/<token>", methods=["GET", "POST"])
    @as_link_holder
    def answer(self, token):
        config = current_app.config
        status, message, level, recipient = 200, None, "info", None
        now = utcnow()
        try:
            recipient = surveys.open_recipient(db.session, config["SECRET_KEY"], token, now)
        except surveys.SurveyLinkError as error:
            message, level, status = str(error), "warning", 400
        else:
            if request.method == "POST":
                try:
                    surveys.submit_answers(db.session, recipient, request.form.to_dict(flat=False), now)
                except surveys.SurveyLinkError as error:
                    recipient, message, level, status = None, str(error), "warning", 400
                except DomainError as error:
                    db.session.rollback()
                    message, level, status = str(error), "danger", 422
                else:
                    recipient, message, level = None, str(_("Thank you for your answers!")), "success"
        survey = recipient.survey if recipient is not None else None
        html = render_template(
            "crm/survey_answer.html",
            survey=survey,
            message=message,
            level=level,
            app_name=self.appbuilder.app_name,
            form=request.form,
        )
        return html, status


class MaintenanceOccurrenceView(CrmView):
    """保养记录: each occurrence of a plan, its work order, and the inspection result and readings."""

    datamodel = CrmInterface(models.MaintenanceOccurrence)
    class_permission_name = RESOURCE_MAINTENANCE_OCCURRENCE
    base_permissions = ["can_read", "can_edit", "can_export"]
    label_columns = {"result": _("Inspection result"), "plan": _("Maintenance plan")}
    list_columns = ["plan", "due_date", "ticket", "result", "readings"]
    edit_columns = ["result", "readings"]
    show_columns = ["plan", "due_date", "ticket", "result", "readings", "created_at"]
    search_columns = ["plan", "due_date", "result"]
    order_columns = ["due_date", "result"]
    base_order = ("due_date", "desc")
    description_columns = {"readings": _("Meter readings and measurements, e.g. pressure 0.35 MPa, current 12 A.")}

    def check_record(self, item):
        maintenance.apply_inspection(db.session, item, g.user.id, utcnow())


class MaintenancePlanView(CrmView):
    datamodel = CrmInterface(models.MaintenancePlan)
    class_permission_name = RESOURCE_MAINTENANCE_PLAN
    label_columns = {"unit": _("Repeat unit"), "every": _("Repeat every"), "cron": _("Cron rule")}
    list_columns = ["title", "equipment", "every", "unit", "cron", "start_date", "lead_days", "department", "active"]
    add_columns = edit_columns = [
        "title",
        "equipment",
        "every",
        "unit",
        "cron",
        "start_date",
        "end_date",
        "lead_days",
        "department",
        "priority",
        "checklist",
        "active",
    ]
    show_columns = add_columns
    search_columns = ["title", "equipment", "department", "active"]
    order_columns = ["title", "start_date", "lead_days"]
    base_order = ("title", "asc")
    related_views = [MaintenanceOccurrenceView]
    add_form_extra_fields = edit_form_extra_fields = {"active": BooleanField(_("Enabled"), default=True)}
    description_columns = {
        "every": _("Every N days, weeks or months from the start date."),
        "cron": _(
            "Optional, instead of the above: minute hour day month weekday, e.g. 0 9 1 * * (the 1st of each month)."
        ),
        "lead_days": _("Work orders are raised this many days before the due date."),
        "checklist": _("What to inspect and read; copied into each work order."),
    }

    def check_record(self, item):

        maintenance.check_plan(item, local_zone())


class EquipmentView(CrmView):
    datamodel = CrmInterface(models.Equipment)
    class_permission_name = RESOURCE_EQUIPMENT
    label_columns = {"kind": _("Equipment type"), "contract": _("Maintenance contract")}
    list_columns = ["code", "name", "kind", "building", "location", "supplier", "warranty_until"]
    add_columns = edit_columns = [
        "code",
        "name",
        "kind",
        "building",
        "location",
        "supplier",
        "contract",
        "installed_on",
        "warranty_until",
        "notes",
    ]
    show_columns = add_columns
    search_columns = ["code", "name", "kind", "building", "supplier", "warranty_until"]
    order_columns = ["code", "name", "kind", "warranty_until"]
    base_order = ("code", "asc")
    quick_search = ("code", "name", "location")
    related_views = [MaintenancePlanView]


FACILITY_MENU = [
    ("Equipment", EquipmentView, _("Equipment register"), "fa-cogs"),
    ("MaintenancePlans", MaintenancePlanView, _("Maintenance plans"), "fa-calendar-check"),
    ("MaintenanceRecords", MaintenanceOccurrenceView, _("Maintenance records"), "fa-clipboard-check"),
]


class HolidayView(CrmView):
    datamodel = CrmInterface(models.Holiday)
    class_permission_name = RESOURCE_HOLIDAY
    label_columns = {
        "name": _("Holiday"),
        "date": _("Date"),
        "greeting_subject": _("Greeting subject"),
        "greeting_body": _("Greeting"),
    }
    list_columns = ["name", "date", "greeting_subject", "active"]
    add_columns = edit_columns = ["name", "date", "greeting_subject", "greeting_body", "active"]
    show_columns = add_columns
    search_columns = ["name", "date", "active"]
    order_columns = ["name", "date"]
    base_order = ("date", "desc")
    add_form_extra_fields = edit_form_extra_fields = {"active": BooleanField(_("Enabled"), default=True)}
    description_columns = {
        "greeting_body": _(
            "Sent to every active customer on the day. Variables: {customer_name}, "
            "{holiday}. Empty: the holiday is only listed for staff."
        )
    }

    def check_record(self, item):
        care.check_holiday(item)


class RenovationView(CrmView):
    """装修管理: applications, and each renovation's progress page with its next step and the unit's tickets."""

    datamodel = CrmInterface(models.Renovation)
    class_permission_name = RESOURCE_RENOVATION
    label_columns = {
        "scope": _("Scope of works"),
        "works_start": _("Works start"),
        "works_end": _("Works end"),
        "started_on": _("Started on"),
        "finished_on": _("Finished on"),
        "inspection_due": _("Inspection due"),
        "inspected_at": _("Inspected at"),
        "inspection_notes": _("Inspection notes"),
        "deposit": _("Deposit"),
        "deposit_received_at": _("Deposit received at"),
        "withheld_amount": _("Amount withheld"),
        "withheld_reason": _("Reason withheld"),
        "settled_at": _("Settled at"),
        "contractor": _("Contractor"),
        "contractor_phone": _("Contractor phone"),
    }
    list_columns = ["unit", "customer", "contractor", "works_start", "works_end", "status", "deposit", "responsible"]
    add_columns = edit_columns = [
        "unit",
        "customer",
        "contractor",
        "contractor_phone",
        "scope",
        "deposit",
        "works_start",
        "works_end",
        "responsible",
    ]
    show_columns = [
        "unit",
        "customer",
        "contractor",
        "contractor_phone",
        "scope",
        "status",
        "deposit",
        "deposit_received_at",
        "works_start",
        "works_end",
        "started_on",
        "finished_on",
        "inspection_due",
        "inspected_at",
        "inspection_notes",
        "withheld_amount",
        "withheld_reason",
        "settled_at",
        "responsible",
        "approved_by",
        "approved_at",
    ]
    search_columns = ["unit", "customer", "status", "works_start", "works_end", "responsible"]
    order_columns = ["works_start", "works_end", "status"]
    base_order = ("works_start", "desc")
    quick_search = ("unit.number", "customer.name", "contractor")

    def check_record(self, item):
        renovation.check_renovation(item)

    def post_add(self, item):
        self._added_id = item.id

    def post_add_redirect(self):
        added, self._added_id = getattr(self, "_added_id", None), None
        return redirect(url_for(".progress", pk=added)) if added else super().post_add_redirect()

    @action("open_progress", _("Progress"), icon="fa-tasks", multiple=False, single=True)
    def open_progress(self, item):
        return redirect(url_for(".progress", pk=item.id))

    @expose("/progress/<int:pk>")
    @has_access
    def progress(self, pk):
        item = self.datamodel.get(pk) or abort(404)
        return self.render_template(
            "crm/renovation_progress.html", renovation=item, tickets=renovation.related_tickets(db.session, item)
        )

    @expose("/step/<int:pk>", methods=["POST"])
    @has_access
    def step(self, pk):
        item = self.datamodel.get(pk) or abort(404)
        now, today, form = utcnow(), _local_today(), request.form
        steps = {
            "approve": lambda: renovation.approve(db.session, item, g.user, now),
            "reject": lambda: renovation.reject(db.session, item, g.user, now),
            "deposit": lambda: renovation.receive_deposit(db.session, item, now),
            "start": lambda: renovation.start_works(db.session, item, today),
            "finish": lambda: renovation.finish_works(db.session, item, today),
            "pass": lambda: renovation.inspect(db.session, item, True, form.get("notes"), now),
            "fail": lambda: renovation.inspect(db.session, item, False, form.get("notes"), now),
            "refund": lambda: renovation.refund(db.session, item, now),
            "withhold": lambda: renovation.withhold(db.session, item, form.get("amount"), form.get("reason"), now),
        }
        do = steps.get(form.get("step"))
        if do is None:
            abort(400)
        try:
            do()
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "danger")
        else:
            flash(str(_("Renovation: %(status)s.", status=RENOVATION_STATUSES.label(item.status))), "success")
        return redirect(url_for(".progress", pk=pk))


class CareRemindersView(BaseView):
    """关怀提醒: today's and the coming week's birthdays, the coming holidays, and sending today's greetings."""

    route_base = "/care"
    default_view = "reminders"
    class_permission_name = RESOURCE_CARE_REMINDERS
    method_permission_name = {"reminders": "read", "send_greetings": "edit"}

    @expose("/")
    @has_access
    def reminders(self):
        today = _local_today()
        return self.render_template(
            "crm/care_reminders.html",
            today=today,
            birthdays=care.upcoming_birthdays(db.session, today, 7),
            holidays=care.upcoming_holidays(db.session, today, 14),
        )

    @expose("/send", methods=["POST"])
    @has_access
    def send_greetings(self):
        counts = care.send_greetings(db.session, _local_today(), utcnow(), responsible_user_id=g.user.id)
        flash(
            str(_("Greetings queued in the outbox: %(birthday)s birthday, %(holiday)s holiday.", **counts)), "success"
        )
        return redirect(url_for(".reminders"))


CARE_MENU = [
    ("Contracts", ContractView, _("Contracts"), "fa-file-signature"),
    ("Suppliers", SupplierView, _("Suppliers"), "fa-truck"),
    ("ReturnVisits", ReturnVisitView, _("Return visits"), "fa-phone"),
    ("ReturnVisitRules", ReturnVisitRuleView, _("Return visit rules"), "fa-random"),
    ("Surveys", SurveyView, _("Satisfaction surveys"), "fa-poll"),
    ("Holidays", HolidayView, _("Holidays"), "fa-gift"),
]
FACILITY_MENU.append(("Renovations", RenovationView, _("Renovations"), "fa-paint-roller"))
CARE_HIDDEN = [ContractReminderView, SurveyQuestionView, SurveyRecipientView]
