"""What a permission is called on the role pages: "客户管理 › 客户：新增", not "can create on Customer".

A resource is named by its menu entry (category › item), else by its model's label, else by the
names below (FAB's own pages and the resources that are only permissions); an action by ACTIONS.
Permissions sort in menu order, then by action, so a role's permissions read like the menu.
"""

from flask_babel import lazy_gettext as _

from app.core.labels import MODEL_LABELS

ACTIONS = {
    "can_read": _("view"),
    "can_list": _("list"),
    "can_show": _("details"),
    "can_get": _("read (API)"),
    "can_info": _("field description (API)"),
    "can_create": _("add"),
    "can_add": _("add"),
    "can_post": _("add (API)"),
    "can_edit": _("edit"),
    "can_put": _("edit (API)"),
    "can_delete": _("delete"),
    "can_export": _("export"),
    "can_import": _("import"),
    "can_download": _("download"),
    "can_approve": _("approve"),
    "can_reverse": _("reverse"),
    "can_manage": _("work any ticket"),
    "can_see_all": _("see all records"),
    "can_see_department": _("see the department's records"),
    "can_receive_level_1": _("receive level-1 escalations"),
    "can_receive_level_2": _("receive level-2 escalations"),
    "can_chart": _("chart"),
    "can_userinfo": _("own account"),
    "resetmypassword": _("change own password"),
    "can_this_form_get": _("open the form"),
    "can_this_form_post": _("submit the form"),
    "menu_access": _("menu entry"),
    "can_add_role_permissions": _("add permissions to roles"),
    "can_copyrole": _("copy roles"),
    "can_list_role_permissions": _("list a role's permissions"),
    "can_update_role_groups": _("set a role's user groups"),
    "can_update_role_users": _("set a role's users"),
    "can_revoke": _("revoke"),
}

RESOURCES = {
    "UserDBModelView": _("Users"),
    "CrmRoleModelView": _("Roles"),
    "RoleModelView": _("Roles"),
    "UserGroupModelView": _("User groups"),
    "UserStatsChartView": _("User Statistics"),
    "PermissionModelView": _("Base permissions"),
    "ViewMenuModelView": _("Views and menus"),
    "PermissionViewModelView": _("Permissions on views and menus"),
    "UserInfoEditView": _("Edit own details"),
    "ResetPasswordView": _("Reset a password"),
    "ResetMyPasswordView": _("Change own password"),
    "CrmAuthDBView": _("Sign-in"),
    "AuthDBView": _("Sign-in"),
    "LocaleView": _("Language"),
    "MenuApi": _("Menu (API)"),
    "OpenApi": _("API description"),
    "SwaggerView": _("API documentation"),
    "SecurityApi": _("Sign-in (API)"),
    "UtilView": _("Utilities"),
    "HomeView": _("Home"),
    "Escalation": _("Escalation notices"),
    "Lookup": _("Searchable selects"),
    "InboxView": _("Inbox"),
    "ExportDownloadView": _("Export downloads"),
    "PasswordResetView": _("Password reset"),
    "RatingView": _("Customer rating page"),
    "BroadcastLinkView": _("Broadcast links"),
    "SurveyAnswerPage": _("Survey answer page"),
    "Report": _("Reports"),
    "Dashboard": _("Dashboard"),
    "Property": _("Property"),
    "ServiceReport": _("Service performance report"),
    "CollectionReport": _("Collection report"),
    "Import": _("Excel import"),
    "Group": _("User groups"),
    "Role": _("Roles"),
    "User": _("Users"),
    "Permission": _("Base permissions"),
    "ViewMenu": _("Views and menus"),
    "PermissionViewMenu": _("Permissions on views and menus"),
}


def _menu(appbuilder):
    """resource name -> (menu position, label) for every menu entry, its category and its view."""
    found = {}
    position = 0
    for category in appbuilder.menu.get_list():
        entries = category.childs or [category]
        for item in entries:
            if item.name == "-":
                continue
            position += 1
            label = f"{category.label} › {item.label}" if category.childs else str(item.label)
            found.setdefault(item.name, (position, label))
            view = getattr(item, "baseview", None)
            if view is not None:
                found.setdefault(view.class_permission_name, (position, label))
        if category.childs:
            found.setdefault(category.name, (position - len(entries) + 0.5, str(category.label)))
    return found


def resource_labels(appbuilder):
    """resource name -> (sort key, Chinese label) for every resource the application declares."""
    menu = _menu(appbuilder)
    labels = {name: (key, label) for name, (key, label) in menu.items()}
    last = max((key for key, _label in labels.values()), default=0) + 1
    for view in appbuilder.baseviews:
        name = view.class_permission_name
        if name in labels:
            continue
        model = getattr(getattr(view, "datamodel", None), "obj", None)
        label = MODEL_LABELS.get(model.__name__) if model is not None else None
        labels[name] = (last, str(label or RESOURCES.get(name, name)))
    return labels


def _labels():
    """resource_labels of the running app, worked out once per request."""
    from flask import current_app, g, has_request_context

    if has_request_context():
        if "crm_resource_labels" not in g:
            g.crm_resource_labels = resource_labels(current_app.appbuilder)
        return g.crm_resource_labels
    return resource_labels(current_app.appbuilder)


def _resource(name):
    labels = _labels()
    if name in labels:
        return labels[name]
    label = MODEL_LABELS.get(name) or RESOURCES.get(name)
    return (10_000, str(label) if label else name)


def resource_label(name):
    return _resource(name)[1]


def action_label(name):
    label = ACTIONS.get(name)
    return str(label) if label is not None else name


def permission_label(permission_view):
    """ "客户管理 › 客户：新增" for FAB's PermissionView (an action on a resource)."""
    return f"{resource_label(permission_view.view_menu.name)}：{action_label(permission_view.permission.name)}"


def _sort_key(permission_view):
    key, label = _resource(permission_view.view_menu.name)
    actions = list(ACTIONS)
    action = permission_view.permission.name
    return (key, label, actions.index(action) if action in actions else len(actions), action)


def sorted_permissions(permission_views):
    """Permissions in menu order, then by action."""
    return sorted(permission_views, key=_sort_key)


def name_security_models(
    user_model, role_model, permission_view_model, permission_model, view_menu_model, person_name, role_labels
):
    """FAB's screens (users, roles, permissions, pickers) show its security records by their
    text: a person by the one naming rule, a built-in role and a permission by their Chinese
    labels. Outside a running app (logs, shell) they keep FAB's own text."""
    from flask import has_app_context

    def keeping(original, text):
        def named(self):
            return text(self) if has_app_context() else original(self)

        return named

    user_model.get_full_name = keeping(user_model.get_full_name, person_name)
    role_model.__repr__ = keeping(role_model.__repr__, lambda r: str(role_labels.get(r.name, r.name)))
    permission_view_model.__repr__ = keeping(permission_view_model.__repr__, permission_label)
    permission_model.__repr__ = keeping(permission_model.__repr__, lambda p: action_label(p.name))
    view_menu_model.__repr__ = keeping(view_menu_model.__repr__, lambda v: resource_label(v.name))
