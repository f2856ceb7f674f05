"""What every staff page has around its content, rendered once and reused.

- The navigation bar. FAB renders its menu on every page: some 80 entries, each a permission check, a
  URL and a translated label, which took about half of a show page's time. The entries a user sees
  follow from their permissions, so the rendered bar is kept per (language, visible entries, signed-in
  name): an admin editing a role changes what its users see at their next page, as before.
- Fragments that depend on nothing but the language and where the app is mounted: the style sheets
  and scripts of the layout, FAB's confirm and alert dialogs, the footer (crm/chrome/*.html, placed
  by crm/base.html). A script tag's nonce is the response's own: the kept copy holds a placeholder
  that each page replaces.
"""

import secrets

from flask import current_app, render_template, request, session
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup

from app.policy.permissions import MENU_ACCESS
from app.policy.principal import current_principal

KEPT = 256  # distinct bars kept per app (some 35 KB each); more and the store starts over


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


def navbar_html():
    """FAB's navigation bar: the brand, the menu, the language and the signed-in person's menu."""
    appbuilder = current_app.appbuilder
    kept = current_app.extensions.setdefault("crm_menu_bars", {})
    name = current_user.get_full_name() if current_user.is_authenticated else None
    key = (str(get_locale()), request.script_root, session.get("locale"), name, visible_entries(appbuilder))
    html = kept.get(key)
    if html is None:
        html = Markup(render_template("crm/chrome/navbar.html", appbuilder=appbuilder))
        if len(kept) >= KEPT:
            kept.clear()
        kept[key] = html
    return html


_NONCE_PLACEHOLDER = "crm-nonce-" + secrets.token_hex(8)


def fragment(template):
    """``template`` rendered for this language and mount point, from the kept copy after the first time."""
    kept = current_app.extensions.setdefault("crm_fragments", {})
    key = (template, str(get_locale()), request.script_root)
    html = kept.get(key)
    if html is None:
        html = render_template(template, appbuilder=current_app.appbuilder, csp_nonce=lambda: _NONCE_PLACEHOLDER)
        if current_app.jinja_env.auto_reload:  # templates being edited: nothing kept
            return Markup(html.replace(_NONCE_PLACEHOLDER, _nonce()))
        kept[key] = html
    return Markup(html.replace(_NONCE_PLACEHOLDER, _nonce()) if _NONCE_PLACEHOLDER in html else html)


def _nonce():
    return getattr(request, "csp_nonce", "")  # Talisman's, made before the request
