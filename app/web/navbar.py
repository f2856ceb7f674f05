"""The menu bar: rendered once per language and set of entries a user may see, then reused.

FAB renders its menu on every page: some 80 entries, each a permission check, a URL and a translated
label, which took about half of a show page's time. The entries a user sees follow from their
permissions, so the rendered bar is kept per (language, visible entries): an admin editing a role
changes what its users see at their next page, as before.
"""

from flask import current_app, render_template, request
from flask_babel import get_locale
from markupsafe import Markup

from app.policy.permissions import MENU_ACCESS
from app.policy.principal import current_principal

KEPT = 256  # distinct (language, visible entries) kept per app; more and the store starts over


def visible_entries(appbuilder):
    """Names of the menu entries the acting user may see, in menu order (the template's own checks,
    ``has_access("menu_access", name)``, answered from the user's permission set read once)."""
    permissions = current_principal().permissions  # None: every permission (the admin role)

    def visible(name):
        return permissions is None or (MENU_ACCESS, name) in permissions

    names = []
    for item in appbuilder.menu.get_list():
        if not visible(item.name):
            continue
        names.append(item.name)
        names.extend(child.name for child in item.childs or () if child and child.name != "-" and visible(child.name))
    return tuple(names)


def menu_html():
    appbuilder = current_app.appbuilder
    kept = current_app.extensions.setdefault("crm_menu_bars", {})
    key = (str(get_locale()), request.script_root, visible_entries(appbuilder))
    html = kept.get(key)
    if html is None:
        html = Markup(render_template("crm/navbar_menu.html", menu=appbuilder.menu))
        if len(kept) >= KEPT:
            kept.clear()
        kept[key] = html
    return html
