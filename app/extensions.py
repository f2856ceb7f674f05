"""Extensions created once, unbound; create_app() binds them."""

from flask_appbuilder import AppBuilder
from flask_appbuilder.models.sqla import Model
from flask_appbuilder.models.sqla.base import SQLA
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

# model_class=Model makes db.metadata FAB's metadata, so our tables and FAB's ab_* tables
# are one schema for create_all() and for Alembic autogenerate.
db = SQLA(model_class=Model)
migrate = Migrate()
csrf = CSRFProtect()
appbuilder = AppBuilder(update_perms=True)
