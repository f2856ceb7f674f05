"""Background tasks: long work started from a page, done by the scheduler in batches, with progress

Revision ID: 246883079c77
Revises: 50887b58747e
Create Date: 2026-11-29 11:27:50.761459

"""
from alembic import op
import sqlalchemy as sa

import app.core.column_types


# revision identifiers, used by Alembic.
revision = '246883079c77'
down_revision = '50887b58747e'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('background_task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('args', sa.JSON(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('cancel_requested', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=True),
    sa.Column('cursor', sa.JSON(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('problem_count', sa.Integer(), nullable=False),
    sa.Column('problems', sa.Text(), nullable=True),
    sa.Column('holder', sa.String(length=120), nullable=True),
    sa.Column('created_at', app.core.column_types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', app.core.column_types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', app.core.column_types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', app.core.column_types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['ab_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('background_task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_background_task_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index('ix_background_task_status', ['status', 'id'], unique=False)



def downgrade():
    with op.batch_alter_table('background_task', schema=None) as batch_op:
        batch_op.drop_index('ix_background_task_status')
        batch_op.drop_index(batch_op.f('ix_background_task_actor_id'))

    op.drop_table('background_task')
