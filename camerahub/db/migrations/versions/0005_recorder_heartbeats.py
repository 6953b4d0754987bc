"""recorder heartbeats

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

Each recorder process writes one row every few seconds (alive, cameras, spool, uploads), so
the API, a separate process, can answer /readyz and show spool and upload lag to ops.
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'recorder_heartbeats',
        sa.Column('id', sa.String(length=128), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('cameras', sa.Integer(), nullable=False),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('recorder_heartbeats')
