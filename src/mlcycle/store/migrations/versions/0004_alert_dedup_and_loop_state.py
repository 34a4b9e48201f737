"""alert deduplication keys and report links; loop leases and state

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedup_key", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("report", sa.Text(), nullable=True))
        batch_op.create_index("ix_alerts_dedup", ["model_name", "dedup_key", "timestamp"])
    op.create_table(
        "loop_leases",
        sa.Column("model_name", sa.String(length=256), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("acquired_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("model_name"),
    )
    op.create_table(
        "loop_state",
        sa.Column("model_name", sa.String(length=256), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("model_name"),
    )


def downgrade() -> None:
    op.drop_table("loop_state")
    op.drop_table("loop_leases")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_dedup")
        batch_op.drop_column("report")
        batch_op.drop_column("dedup_key")
