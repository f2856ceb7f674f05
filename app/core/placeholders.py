"""Message text with ``{name}`` placeholders: the one reader of notice templates, broadcasts,
greetings and survey invitations.

The language is deliberately small: ``{name}`` inserts a declared variable as plain text; ``{{`` and
``}}`` write a literal brace. Nothing else — no format specs (``{name:>9}``), conversions
(``{name!r}``), attribute or index access (``{name.x}``, ``{name[0]}``) — so a template can never make
the renderer do more than copy text. A text is checked when it is saved (``first_problem`` names the
bad placeholder); rendering never expands anything but declared names, caps the result, and reports
what it had to leave out instead of failing (a stored text may predate a rule).
"""

import logging
import re

MAX_TEXT_CHARS = 4000  # a template, broadcast or greeting as written
MAX_RENDERED_CHARS = 8000  # one rendered message (the variables can be long texts)
MAX_REPORTED = 10  # problems reported per rendering

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
log = logging.getLogger(__name__)


class Problem:
    """What is wrong with a text: ``kind`` is "unbalanced", "form" (a placeholder that is not a plain
    name), "unknown" (a name not declared), "length" or "cut"; ``placeholder`` the text at fault."""

    def __init__(self, kind, placeholder=""):
        self.kind, self.placeholder = kind, placeholder

    def __repr__(self):
        return f"{self.kind}: {self.placeholder}" if self.placeholder else self.kind


def _tokens(text):
    """Yield ("text", s), ("name", name, raw) and ("bad", raw, kind) pieces of ``text``."""
    i, n, start = 0, len(text), 0
    close = -2  # the next "}" at or after i, found once per "}" (linear even on a hostile text)
    while i < n:
        ch = text[i]
        if ch not in "{}":
            i += 1
            continue
        if i > start:
            yield "text", text[start:i]
        if text.startswith("{{", i) or text.startswith("}}", i):
            yield "text", ch
            i += 2
        elif ch == "}":
            yield "bad", "}", "unbalanced"
            i += 1
        else:
            if close != -1 and close <= i:
                close = text.find("}", i + 1)
            end = close
            if end < 0 or text.find("{", i + 1, end) >= 0:
                yield "bad", "{", "unbalanced"
                i += 1
            else:
                raw = text[i : end + 1]
                inner = raw[1:-1]
                if _NAME.match(inner):
                    yield "name", inner, raw
                else:
                    yield "bad", raw, "form"
                i = end + 1
        start = i
    if start < n:
        yield "text", text[start:]


def first_problem(text, allowed):
    """The first problem of ``text`` for the declared variable names ``allowed``, or None when it is good."""
    text = text or ""
    if len(text) > MAX_TEXT_CHARS:
        return Problem("length")
    for token in _tokens(text):
        if token[0] == "bad":
            return Problem(token[2], token[1][:60])
        if token[0] == "name" and token[1] not in allowed:
            return Problem("unknown", token[1])
    return None


def render(text, values, allowed=None, report=None, limit=MAX_RENDERED_CHARS):
    """``text`` with each declared ``{name}`` replaced by its value as plain text (None reads as blank).

    Anything else in braces is copied as it stands, never expanded; the result is cut at ``limit``
    characters. Each problem met is logged and, when ``report`` is a list, appended to it.
    """
    text = text or ""
    allowed = set(values) if allowed is None else set(allowed)
    found = []
    if len(text) > limit:  # the work is bounded by the limit, whatever a stored text holds
        text = text[:limit]
        found.append(Problem("length"))
    parts, size, cut = [], 0, False
    for token in _tokens(text):
        if token[0] == "name" and token[1] in allowed:
            value = values.get(token[1])
            piece = "" if value is None else str(value)
        elif token[0] == "name":
            piece = token[2]
            found.append(Problem("unknown", token[1]))
        elif token[0] == "bad":
            piece = token[1]
            found.append(Problem(token[2], token[1][:60]))
        else:
            piece = token[1]
        if size + len(piece) > limit:
            parts.append(piece[: limit - size])
            found.append(Problem("cut"))
            cut = True
            break
        parts.append(piece)
        size += len(piece)
    if found:
        found = found[:MAX_REPORTED]
        log.warning("message text problems %s in %r", found, text[:100])
        if report is not None:
            report.extend(found)
    rendered = "".join(parts)
    return rendered[: limit - 1] + "…" if cut else rendered
