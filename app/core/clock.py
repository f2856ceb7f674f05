"""The one owner of time: nothing else in the app reads the real clock.

Everything that needs "now" calls these functions (or takes `now` from a caller that did), so
tests move time with time-machine and jobs, pages and exports all agree on the moment.
Stored times are timezone-aware UTC; the firm's zone (config TIMEZONE) is for what people see.
"""

import datetime
import time
import zoneinfo

from flask import current_app, has_app_context

UTC = datetime.timezone.utc
DEFAULT_ZONE = "Asia/Shanghai"


def utcnow():
    """The current moment, timezone-aware UTC."""
    return datetime.datetime.now(UTC)


def timestamp():
    """Seconds since the epoch, for session and throttle bookkeeping."""
    return time.time()


def zone_name():
    if has_app_context():
        return current_app.config.get("TIMEZONE") or DEFAULT_ZONE
    return DEFAULT_ZONE


def local_zone():
    """The firm's time zone (config TIMEZONE, default Asia/Shanghai)."""
    return zoneinfo.ZoneInfo(zone_name())


def local_now():
    """The current moment in the firm's zone."""
    return utcnow().astimezone(local_zone())


def local_today():
    """Today's date in the firm's zone."""
    return local_now().date()


def to_local(value):
    """An aware datetime shown in the firm's zone (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(local_zone())


def local_midnight(day, zone=None):
    """The aware moment a local calendar day starts."""
    return datetime.datetime.combine(day, datetime.time(), zone or local_zone())


def utc_offset(zone=None):
    """The zone's current offset from UTC (SQLite date arithmetic shifts by it)."""
    return utcnow().astimezone(zone or local_zone()).utcoffset()
