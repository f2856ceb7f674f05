"""Message ids that `pybabel extract` must put into messages.pot but cannot find in app/ code.

This module is never imported: it only exists so that the extractor (babel.cfg, `**.py`) sees
these strings, keeps them in app/translations/messages.pot, and `pybabel update` therefore keeps
(instead of obsoleting with `#~`) their translations in zh/LC_MESSAGES/messages.po.

1. App strings the extractor misses: `_()` calls inside f-strings are invisible to Babel's
   Python extractor before Python 3.12 (app/web/fields.py, the relation picker's placeholder).
2. Flask-AppBuilder's own UI strings. Our catalogue directory is merged after FAB's
   (flask_appbuilder/translations), so an entry here overrides FAB's shipped Chinese. Listed are
   the FAB msgids that FAB 5.3's zh catalogue lacks, leaves empty or marks fuzzy (fuzzy entries
   are not compiled, so they show in English), and those it translates wrongly or in words
   that clash with the CRM's. Msgids must stay byte-identical to FAB's.
   To re-check after upgrading FAB, extract FAB's msgids
     pybabel extract -k lazy_gettext -k _l -F <cfg: [python: **.py] [jinja2: **/templates/**.html]> \
       -o /tmp/fab.pot <site-packages>/flask_appbuilder
   and compare with <site-packages>/flask_appbuilder/translations/zh/LC_MESSAGES/messages.po.
"""


def _(message):
    """No-op marker: returns the msgid unchanged; only the extractor cares."""
    return message


APP_MSGIDS = (_("Type to search"),)

# FAB 5.3 msgids that are missing, empty or fuzzy in FAB's zh catalogue.
FAB_MISSING_MSGIDS = (
    # list/show/edit buttons and delete confirmation (general/lib.html)
    _("Add"),
    _("Edit"),
    _("Show"),
    _("Delete"),
    _("Are you sure you want to delete this item?"),
    # errors and validation
    _("Database Error"),
    _("Not a valid choice"),
    _(
        "Must have at least two capital letters, one special character, two digits, "
        "three lower case letters and a minimal length of 10."
    ),
    # search filters
    _("Contains (insensitive)"),
    _("Start with"),
    _("In"),
    _("Not In"),
    # security: users, groups, roles
    _("Either select a role or a group"),
    _("List Groups"),
    _("Groups"),
    _("Show Group"),
    _("Add Group"),
    _("Edit Group"),
    _("User(s) exists in the group, cannot delete"),
    _("User(s) exists in the role, cannot delete"),
    _("Edit User Information"),
    _("User information changed"),
    _("The user's password for authentication"),
    _("It's not a good policy to remove a user, just make it inactive"),
    # security/views.py uses lazy_formatter_gettext, which the extractor does not know
    _("The user role on the application, this will associate with a list of permissions"),
    _("The user group on the application, this will associate with a list of roles associated with the group"),
    # OAuth/SAML login buttons: followed by the provider name
    _("Sign In with "),
)

# FAB 5.3 msgids whose shipped zh translation is wrong, garbled or inconsistent with CRM wording.
FAB_CORRECTED_MSGIDS = (
    _("Back"),
    _("Detail"),
    _("Add a new record"),
    _("Show record"),
    _("Record Count"),
    _("Page size"),
    _("Add Filter"),
    _("This field is required."),
    _("Already exists."),
    _("Integrity error, probably unique constraint"),
    _("Starts with"),
    _("Not Starts with"),
    _("Ends with"),
    _("Not Ends with"),
    _("Relation"),
    _("No Relation"),
    _("Relation as Many"),
    _("Logout"),
    _("Profile"),
    _("Security"),
    _("User Registrations"),
    _("List Base Permissions"),
    _("List View Menus"),
    _("Show Base Permission"),
    _("Show View Menu"),
    _("Show Permission on Views/Menus"),
    _("Show User"),
    _("Show Role"),
    _("Show Registration"),
    _("Add Base Permission"),
    _("Add View Menu"),
    _("Add Permission on Views/Menus"),
    _("Add User"),
    _("Add Role"),
    _("Registration not found"),
    _("Full Name"),
    _("Is Active?"),
    _("Last login"),
    _("Created on"),
    _("Created by"),
    _("Changed on"),
    _("Changed by"),
    _("Email"),
    _("Attachment added"),  # app.tickets.lifecycle, inside an f-string
    _("Reason"),  # app.tickets.lifecycle, inside an f-string
    _("no customer to bill"),  # app.billing.bills, inside an f-string
    _("Payment reminder"),
)
