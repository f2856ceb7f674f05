"""portal requests: the customer's preferred visit time; history lines the customer may see

Revision ID: 2b9c606362ef
Revises: b640ce2460c4
Create Date: 2026-11-29 14:17:03.496766

"""

from alembic import op
import sqlalchemy as sa

import app.core.column_types


# revision identifiers, used by Alembic.
revision = "2b9c606362ef"
down_revision = "b640ce2460c4"
branch_labels = None
depends_on = None

# app.tickets.models.CUSTOMER_VISIBLE_KINDS when this revision was written
VISIBLE_KINDS = ("created", "status", "assigned", "reminder")


def upgrade():
    # plain ADD COLUMN (no table copy): the ticket table carries the text search's triggers
    op.add_column("ticket", sa.Column("preferred_visit_at", app.core.column_types.UTCDateTime(timezone=True), nullable=True))
    op.add_column(
        "ticket_event", sa.Column("visible_to_customer", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    event = sa.table("ticket_event", sa.column("kind", sa.String), sa.column("visible_to_customer", sa.Boolean))
    op.execute(event.update().where(event.c.kind.in_(VISIBLE_KINDS)).values(visible_to_customer=sa.true()))


def downgrade():
    # plain DROP COLUMN (SQLite 3.35+): copying the ticket table would lose the text search's triggers
    op.drop_column("ticket_event", "visible_to_customer")
    op.drop_column("ticket", "preferred_visit_at")
