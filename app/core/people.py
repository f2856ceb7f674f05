"""How a person (a staff account) is named wherever people read it: lists, pickers, timelines,
notices, exports. FAB's own "first last" reads backwards in Chinese."""


def person_name(user):
    """The family name first in Chinese (李丽娟); a name in Latin letters keeps "first last"."""
    first, last = user.first_name or "", user.last_name or ""
    if any("\u4e00" <= ch <= "\u9fff" for ch in first + last):
        return f"{last}{first}"
    return f"{first} {last}".strip()
