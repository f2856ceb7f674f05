"""The staff mobile work view (/m/): field staff on their phones, signed in with their usual account.

The same login, lockout and session rules as the desktop pages (a resident's portal session gives
nothing here), the same permissions, row scope and field levels, and every action through the same
domain functions as the ticket work page (app.tickets.lifecycle, app.facilities.maintenance, app.policy.attachments).
"""
