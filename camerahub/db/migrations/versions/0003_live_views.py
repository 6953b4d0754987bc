"""per-user saved live walls

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

A crisis-management watcher saves a wall (layout, site/floor/room filter, page cycle) by
name and finds it again on any office PC: live_views, unique per user and name.
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('live_views',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=63), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('layout', sa.Integer(), nullable=False),
    sa.Column('cycle_s', sa.Integer(), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'name', name='uq_live_views_user_name')
    )
    with op.batch_alter_table('live_views', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_views_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('live_views', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_views_user_id'))
    op.drop_table('live_views')
