"""The API describes its fields in the user's language, with the same labels as the pages.

FAB's ModelRestApi makes labels from column names ("Assignee Id") and asks gettext for the
description of a field that has none, which returns the catalogue's header ("Project-Id-Version…").
"""

from flask_babel import LazyString, lazy_gettext as _

from app.core.labels import COLUMN_LABELS, MODEL_LABELS


def _joined(*parts):
    return LazyString(lambda: "".join(str(part) for part in parts))


def column_labels(columns, known):
    """column -> label for every column (dotted ones too: "assignee.username" → 处理人用户名)."""
    known = dict(COLUMN_LABELS, **known)
    labels = {}
    for column in columns:
        if column in known:
            labels[column] = known[column]
            continue
        head, _dot, tail = column.partition(".")
        if tail and head in known:
            labels[column] = _joined(known[head], known.get(tail, COLUMN_LABELS.get(tail, tail)))
    return labels


def titles(model_name):
    """The list/show/add/edit titles of an API, as the pages say them."""
    entity = MODEL_LABELS.get(model_name, model_name)
    return {
        "list_title": _("%(entity)s list", entity=entity),
        "show_title": _("%(entity)s details", entity=entity),
        "add_title": _("Add %(entity)s", entity=entity),
        "edit_title": _("Edit %(entity)s", entity=entity),
    }


class DescribedApi:
    """Mixin for a ModelRestApi: a field without a description has an empty one."""

    def _get_field_info(self, field, filter_rel_field, page=None, page_size=None):
        info = super()._get_field_info(field, filter_rel_field, page=page, page_size=page_size)
        if not self.description_columns.get(field.name):
            info["description"] = ""
        return info
