"""Settings rows (SLA fallback, level-2 escalation delay) and the record of built-in defaults seeded once

Revision ID: 50887b58747e
Revises: c77d2e282072
Create Date: 2026-11-29 09:33:31.210246

"""
from alembic import op
import sqlalchemy as sa

import app.core.column_types


# revision identifiers, used by Alembic.
revision = '50887b58747e'
down_revision = 'c77d2e282072'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('seeded_default',
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('seeded_at', app.core.column_types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('system_setting',
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.CheckConstraint('value > 0', name='ck_system_setting_positive'),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade():
    op.drop_table('system_setting')
    op.drop_table('seeded_default')
