"""The resident portal's sections, registered on its blueprint in the order of the home page."""

from app.portal import home  # noqa: F401
from app.portal import notices, activities  # noqa: F401
from app.portal.blueprint import portal

__all__ = ["portal"]
