"""Failures and lock of sign-in names no account has (the login reply hides which names exist)

Revision ID: c77d2e282072
Revises: c1ea92c0b5b0
Create Date: 2026-11-29 09:18:15.423077

"""
from alembic import op
import sqlalchemy as sa

import app.core.column_types


# revision identifiers, used by Alembic.
revision = 'c77d2e282072'
down_revision = 'c1ea92c0b5b0'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('login_name_lock',
    sa.Column('name_hash', sa.String(length=64), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', app.core.column_types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_failure_at', app.core.column_types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name_hash')
    )
    with op.batch_alter_table('login_name_lock', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_name_lock_last_failure_at'), ['last_failure_at'], unique=False)



def downgrade():
    with op.batch_alter_table('login_name_lock', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_name_lock_last_failure_at'))

    op.drop_table('login_name_lock')
