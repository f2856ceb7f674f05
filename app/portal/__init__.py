"""The resident portal (/portal/): residents on their phones, signed in as themselves.

A resident is a principal of their own kind (app.policy.principal.resident_principal): no staff
permission, and only their own rows (app.policy.scoping.resident_options). The portal's session is its own
key in the cookie, never a staff login: a staff session gives nothing here and a resident session
gives nothing on staff pages or the API.
"""
