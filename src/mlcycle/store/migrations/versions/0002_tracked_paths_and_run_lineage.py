"""tracked paths (folders, file counts, unknown row counts) and run lineage

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=8), server_default="file", nullable=False)
        )
        batch_op.add_column(sa.Column("files", sa.Integer(), server_default="1", nullable=False))
        batch_op.alter_column("rows", existing_type=sa.Integer(), nullable=True)
    op.create_table(
        "run_lineage",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("upstream_run_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.ForeignKeyConstraint(["upstream_run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("run_id", "upstream_run_id"),
    )
    with op.batch_alter_table("run_lineage", schema=None) as batch_op:
        batch_op.create_index("ix_run_lineage_upstream_run_id", ["upstream_run_id"], unique=False)


def downgrade() -> None:
    op.drop_table("run_lineage")
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.alter_column("rows", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("files")
        batch_op.drop_column("kind")
