"""Dates and times as people type them: 2026-11-26, 2026/11/26, 2026年11月26日, 2026-12-01 18:00[:00],
2026/12/01 18:00, 2026-12-01T18:00. Read by every form field, list filter and report filter.

A typed time has no zone: it is the firm's local time, returned as aware UTC (how times are stored).
"""

import datetime
import re

from app.core.clock import local_zone

_SEPARATOR = r"\s*[-/.年]\s*"
_TYPED = re.compile(
    r"^(?P<year>\d{4})" + _SEPARATOR + r"(?P<month>\d{1,2})\s*[-/.月]\s*(?P<day>\d{1,2})\s*日?"
    r"(?:(?:\s+|\s*[Tt]\s*)(?P<hour>\d{1,2})\s*[:：时]\s*(?P<minute>\d{1,2})"
    r"(?:\s*[:：分]\s*(?P<second>\d{1,2})\s*秒?|\s*分)?)?$"
)


class TypedDateError(ValueError):
    """A typed date or time that is not one."""


def _match(text):
    match = _TYPED.match((text or "").strip().replace("\u3000", " "))
    if match is None:
        raise TypedDateError(text)
    return match


def parse_typed_date(text):
    """A calendar day typed as 2026-11-26, 2026/11/26, 2026.11.26 or 2026年11月26日 (no time of day)."""
    match = _match(text)
    if match["hour"] is not None:
        raise TypedDateError(text)
    try:
        return datetime.date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError as exc:
        raise TypedDateError(text) from exc


def parse_typed_datetime(text, zone=None):
    """A moment typed in the firm's zone (2026-12-01 18:00[:00], 2026/12/01 18:00, 2026-12-01T18:00,
    or a day alone for its midnight), as an aware UTC datetime."""
    match = _match(text)
    parts = [int(match[name] or 0) for name in ("year", "month", "day", "hour", "minute", "second")]
    try:
        naive = datetime.datetime(*parts)
    except ValueError as exc:
        raise TypedDateError(text) from exc
    return naive.replace(tzinfo=zone or local_zone()).astimezone(datetime.timezone.utc)
