"""notices read in the portal, community activities, portal sign-in time

Revision ID: 8ffbfed77b2b
Revises: 08a65df7b0c8
Create Date: 2026-11-29 14:16:11.046086

"""
from alembic import op
import sqlalchemy as sa

import app.core.column_types


# revision identifiers, used by Alembic.
revision = '8ffbfed77b2b'
down_revision = "08a65df7b0c8"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('activity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('starts_at', app.core.column_types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', app.core.column_types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sign_up_deadline', app.core.column_types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('signed_up_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.core.column_types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.column_types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('capacity > 0', name='ck_activity_capacity'),
    sa.CheckConstraint('ends_at >= starts_at', name='ck_activity_times'),
    sa.CheckConstraint('signed_up_count >= 0 AND signed_up_count <= capacity', name='ck_activity_signed_up_count'),
    sa.ForeignKeyConstraint(['created_by_id'], ['ab_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['ab_user.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('activity_building',
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('activity_id', 'building_id')
    )
    op.create_table('activity_sign_up',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('signed_up_at', app.core.column_types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', app.core.column_types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attended', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('activity_id', 'customer_id', name='uq_activity_sign_up')
    )
    with op.batch_alter_table('activity_sign_up', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activity_sign_up_activity_id'), ['activity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_activity_sign_up_customer_id'), ['customer_id'], unique=False)

    op.create_table('activity_tag',
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('activity_id', 'tag_id')
    )
    op.create_table('notice_read',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('broadcast_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('read_at', app.core.column_types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['broadcast_id'], ['broadcast.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('broadcast_id', 'customer_id', name='uq_notice_read')
    )
    with op.batch_alter_table('notice_read', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notice_read_broadcast_id'), ['broadcast_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notice_read_customer_id'), ['customer_id'], unique=False)

    with op.batch_alter_table('broadcast', schema=None) as batch_op:
        batch_op.add_column(sa.Column('portal_residents', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('portal_signed_in_at', app.core.column_types.UTCDateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('portal_signed_in_at')

    with op.batch_alter_table('broadcast', schema=None) as batch_op:
        batch_op.drop_column('portal_residents')

    with op.batch_alter_table('notice_read', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notice_read_customer_id'))
        batch_op.drop_index(batch_op.f('ix_notice_read_broadcast_id'))

    op.drop_table('notice_read')
    op.drop_table('activity_tag')
    with op.batch_alter_table('activity_sign_up', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activity_sign_up_customer_id'))
        batch_op.drop_index(batch_op.f('ix_activity_sign_up_activity_id'))

    op.drop_table('activity_sign_up')
    op.drop_table('activity_building')
    op.drop_table('activity')
