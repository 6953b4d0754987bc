"""typed actors and 64-bit incident ids in the audit trail

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Actors are stored typed (`alert-source:<id>` is up to 76 characters), so the columns that
hold them grow from 63 to 128; audit_entries.incident_id becomes 64-bit like incident ids.
SQLite neither enforces VARCHAR lengths nor distinguishes integer widths: nothing to do there.
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

ACTOR_COLUMNS = [("incidents", "opened_by", False), ("holds", "created_by", False),
                 ("holds", "released_by", True), ("grants", "created_by", False)]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column, nullable in ACTOR_COLUMNS:
        op.alter_column(table, column, type_=sa.String(128), existing_type=sa.String(63),
                        existing_nullable=nullable)
    op.alter_column("audit_entries", "incident_id", type_=sa.BigInteger(),
                    existing_type=sa.Integer(), existing_nullable=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column("audit_entries", "incident_id", type_=sa.Integer(),
                    existing_type=sa.BigInteger(), existing_nullable=True)
    for table, column, nullable in ACTOR_COLUMNS:
        op.alter_column(table, column, type_=sa.String(63), existing_type=sa.String(128),
                        existing_nullable=nullable)
