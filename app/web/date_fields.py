"""Dates and date-times as the staff type them, on every form and list filter.

The widget is a plain text box: whatever is typed stays in it (2026-11-26, 2026/11/26, 2026年11月26日,
2026-12-01 18:00, 2026-12-01T18:00 …) and the server reads it here. A calendar (Air Datepicker,
MIT, kept up to date on the npm registry, served by this app from node_modules, no jQuery plugin,
Chinese month and weekday names, a time picker) opens beside the box as a help; it only writes into
the box when a day or time is picked. The browser's own <input type="date"> was not used: in Chromium
its segments take the year as six digits and ignore "-", so a typed 2026-11-26 becomes 61126-02-02,
and it cannot take a pasted 2026/11/26.

A typed date-time has no zone: it is the firm's local time (app.core.clock owns the zone) and is
stored as UTC, the way every UTCDateTime column keeps its values.
"""

import datetime

from flask_babel import lazy_gettext as _
from markupsafe import Markup
from wtforms import Field
from wtforms.widgets import html_params

from app.core.clock import to_local
from app.core.typed_dates import TypedDateError, parse_typed_date, parse_typed_datetime

__all__ = [
    "LocalDateField",
    "LocalDateTimeField",
    "TypedDateError",
    "TypedDateInput",
    "parse_typed_date",
    "parse_typed_datetime",
    "picker_blueprint",
]


class TypedDateInput:
    """The one date (or date-time) box of the app: a text input the calendar script (crm-dates.js) finds
    by its data-crm-date attribute, in forms and in the list filters FAB copies from the search form."""

    def __init__(self, kind="date"):
        self.kind = kind

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        kwargs.setdefault("name", field.name)
        kwargs["class"] = ("form-control crm-date " + kwargs.pop("class", "") + " " + kwargs.pop("class_", "")).strip()
        kwargs.setdefault(
            "placeholder", str(_("e.g. 2026-12-01 18:00") if self.kind == "datetime" else _("e.g. 2026-11-26"))
        )
        return Markup(
            "<input %s>"
            % html_params(type="text", value=field._value(), autocomplete="off", data_crm_date=self.kind, **kwargs)
        )


class _TypedField(Field):
    """A date or date-time box: what was typed is kept on a refusal; ``parse``/``shown`` say the kind."""

    kind = "date"
    message = None

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("widget", TypedDateInput(self.kind))
        super().__init__(label, validators, **kwargs)

    def _value(self):
        if self.raw_data:
            return " ".join(self.raw_data)
        return "" if self.data is None else self.shown(self.data)

    def process_formdata(self, valuelist):
        text = " ".join(valuelist).strip() if valuelist else ""
        if not text:
            self.data = None
            return
        try:
            self.data = self.parse(text)
        except TypedDateError:
            self.data = None
            raise ValueError(self.message) from None


class LocalDateField(_TypedField):
    """A calendar day, typed the way the staff write it."""

    kind = "date"
    message = _("Enter a date such as 2026-11-26 (year-month-day).")
    parse = staticmethod(parse_typed_date)

    @staticmethod
    def shown(value):
        return value.isoformat() if isinstance(value, datetime.date) else ""


class LocalDateTimeField(_TypedField):
    """Date and time typed in the local zone, stored as UTC."""

    kind = "datetime"
    message = _("Enter a date and time such as 2026-12-01 18:00.")
    parse = staticmethod(parse_typed_datetime)

    @staticmethod
    def shown(value):
        # saved unchanged, it keeps its seconds
        return to_local(value).strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime.datetime) else ""


def picker_blueprint(app):
    """Air Datepicker from node_modules (installed from package-lock.json by the set-up), served here."""
    import os

    from flask import Blueprint

    folder = app.config.get("CRM_AIR_DATEPICKER_DIR") or os.path.join(
        os.path.dirname(app.root_path), "node_modules", "air-datepicker"
    )
    return Blueprint(
        "vendor_air_datepicker", __name__, static_folder=folder, static_url_path="/static/vendor/air-datepicker"
    )
