"""The resident portal's sections, registered on its blueprint in the order of the home page."""

from app.portal import home  # noqa: F401
from app.portal import requests  # noqa: F401
from app.portal import bills  # noqa: F401
from app.portal import sign_in  # noqa: F401
from app.portal import me  # noqa: F401
from app.portal import notices, activities  # noqa: F401
from app.portal.blueprint import portal

__all__ = ["portal"]
