"""A ticket note's sending key: a note a phone sends twice (back online) is saved once

Revision ID: b640ce2460c4
Revises: d2a7e3d66ab6
Create Date: 2026-11-29 14:16:35.421254

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "b640ce2460c4"
down_revision = "d2a7e3d66ab6"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("ticket_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_key", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_ticket_event_client_key", ["ticket_id", "client_key"])


def downgrade():
    with op.batch_alter_table("ticket_event", schema=None) as batch_op:
        batch_op.drop_constraint("uq_ticket_event_client_key", type_="unique")
        batch_op.drop_column("client_key")
