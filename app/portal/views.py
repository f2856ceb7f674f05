"""The resident portal's sections, registered on its blueprint in the order of the home page."""

from app.portal.blueprint import portal
from app.portal.pages import activities, bills, home, me, notices, requests, sign_in  # noqa: F401

__all__ = ["portal"]
