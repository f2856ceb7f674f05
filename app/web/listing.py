"""What a list shows, as a service: ListArgs reads a list's address (filters, quick search, order, building/unit, columns, ticked ids) from a request or a saved query string; the page, its download, the background export and broadcast segments all list through CrmModelView.list_query(args)."""

import copy
import datetime
import re
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qsl

from flask import request
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from app.policy.field_permissions import mask


def record_ids(value):
    """Is a filter's value (one text or the list the address gives) made of record ids only?"""
    values = value if isinstance(value, (list, tuple)) else [value]
    return bool(values) and all(str(v).isdigit() and len(str(v)) <= 18 for v in values)


@dataclass(frozen=True)
class ListArgs:
    """What a list shows, as its address says: filters (``_flt_<i>_<column>``), quick search (``q``),
    order (``_oc_/_od_<View>``), columns (``cols``) and ticked rows (``ids``). Read from the request by
    the page and its download, from a saved query string by the background export and broadcast
    segments: one reading, no request needed."""

    args: MultiDict
    ticked: MultiDict  # where ``ids`` come from: a form posts them, a link carries them

    @classmethod
    def of_request(cls):
        return cls(request.args, request.values)

    @classmethod
    def of_query(cls, query_string):
        args = MultiDict(parse_qsl(query_string or "", keep_blank_values=True))
        return cls(args, args)

    @property
    def text(self):
        return self.args.get("q", "").strip()

    @property
    def columns(self):
        return [c for c in self.args.get("cols", "").split(",") if c]

    @property
    def ids(self):
        """The ids ticked on the list page (``ids=1,2,3``), or None when none were given."""
        raw = self.ticked.get("ids")
        return None if raw is None else [int(part) for part in raw.split(",") if part.strip().isdigit()]

    def order(self, view_name):
        direction = self.args.get(f"_od_{view_name}")
        return (self.args.get(f"_oc_{view_name}"), direction) if direction in ("asc", "desc") else ("", "")

    def filters(self, declared):
        """The view's declared filters with the values the address gives, on a copy (the view's own
        object is shared by every request and job)."""
        chosen = copy.copy(declared)
        chosen.clear_filters()
        allowed = declared.get_search_filters()
        for arg in self.args:
            match = re.fullmatch(r"_flt_(\d)_(.*)", arg)
            if match and match[2] in allowed:
                chosen.add_filter_index(match[2], int(match[1]), self.args.getlist(arg))
        return chosen


def export_value(formatter, value, masked=False):
    """Cells keep their type (dates, numbers) and take the page's text for everything else."""
    if not masked and (isinstance(value, (datetime.date, Decimal, int, float, bool)) or formatter is None):
        return value
    shown = formatter(value) if formatter else value
    return shown.striptags() if isinstance(shown, Markup) else shown  # a page's link is text in a sheet


def masking(field, base):
    def formatted(value):
        shown = base(value) if base else value
        return mask(field, shown if shown is None else str(shown))

    return formatted
