"""packed metric chunks, latest metrics for search, ingested batch ids, 64-bit sizes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 12:00:00
"""

from __future__ import annotations

import math
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _move_points(conn: sa.Connection) -> None:
    """Pack the old one-row-per-point `metrics` into chunks and fill `latest_metrics`."""
    series: dict[tuple[str, str], list[tuple[int, float, float]]] = defaultdict(list)
    rows = conn.execute(
        sa.text("SELECT run_id, key, step, value, timestamp FROM metrics ORDER BY id")
    )
    for run_id, key, step, value, stamp in rows:
        series[(run_id, key)].append((step, value, stamp))
    if not series:
        return
    from mlcycle.store._chunks import pack_points  # numpy: only when there are points to move

    chunks, latest = [], []
    for (run_id, key), points in series.items():
        points.sort(key=lambda p: p[0])  # stable: the last logged wins on equal steps
        n, data = pack_points(*zip(*points, strict=True))
        chunks.append({"run_id": run_id, "key": key, "n": n, "data": data})
        step, value, stamp = points[-1]
        value = None if math.isnan(value) else value
        latest.append(
            {"run_id": run_id, "key": key, "value": value, "step": step, "timestamp": stamp}
        )
    conn.execute(sa.table("metric_chunks", *map(sa.column, chunks[0])).insert(), chunks)
    conn.execute(sa.table("latest_metrics", *map(sa.column, latest[0])).insert(), latest)


def upgrade() -> None:
    op.create_table(
        "metric_chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_metric_chunks_run_key", "metric_chunks", ["run_id", "key"])
    op.create_table(
        "latest_metrics",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("run_id", "key"),
    )
    op.create_index("ix_latest_metrics_key_value", "latest_metrics", ["key", "value"])
    op.create_table(
        "ingested_batches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_runs_experiment_start", "runs", ["experiment_id", "start_time"])
    _move_points(op.get_bind())
    op.drop_table("metrics")
    for table in ("artifacts", "dataset_versions"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column("size", existing_type=sa.Integer(), type_=sa.BigInteger())


def downgrade() -> None:
    for table in ("artifacts", "dataset_versions"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column("size", existing_type=sa.BigInteger(), type_=sa.Integer())
    op.create_table(
        "metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("timestamp", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_metrics_run_key_step", "metrics", ["run_id", "key", "step"])
    op.drop_index("ix_runs_experiment_start", table_name="runs")
    op.drop_table("ingested_batches")
    op.drop_table("latest_metrics")
    op.drop_table("metric_chunks")
