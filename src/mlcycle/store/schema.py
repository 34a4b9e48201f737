"""The metadata schema (SQLAlchemy 2 ORM). Every change ships an Alembic migration.

Times are float seconds since the epoch (UTC); ids are 32-hex UUIDs for
runs and requests, BLAKE3 hex digests for content.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of every mlcycle table."""


class ExperimentRow(Base):
    __tablename__ = "experiments"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    created_at: Mapped[float] = mapped_column(Float)


class RunRow(Base):
    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    experiment_id: Mapped[str] = mapped_column(ForeignKey("experiments.id"), index=True)
    parent_id: Mapped[str | None] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))
    start_time: Mapped[float] = mapped_column(Float)
    end_time: Mapped[float | None] = mapped_column(Float)
    git_commit: Mapped[str | None] = mapped_column(String(40))
    environment: Mapped[dict[str, Any]] = mapped_column(JSON)
    __table_args__ = (Index("ix_runs_experiment_start", "experiment_id", "start_time"),)


class ParamRow(Base):
    __tablename__ = "params"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class MetricChunkRow(Base):
    """A run of consecutive points of one metric series, packed (see `store._chunks`).

    One row per metric key per flush, not per point: logging a million points
    writes a handful of rows. `data` holds `n` little-endian int64 steps, then
    `n` float64 values (NaN and infinities kept as such), then `n` float64
    timestamps (seconds since the epoch).
    """

    __tablename__ = "metric_chunks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    key: Mapped[str] = mapped_column(String(256))
    n: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    __table_args__ = (Index("ix_metric_chunks_run_key", "run_id", "key"),)


class LatestMetricRow(Base):
    """The value at the highest step of each metric of each run (last logged on ties).

    Kept up to date on every write, so search and ordering by a metric is an
    indexed lookup. `value` NULL stores NaN (SQLite has no NaN).
    """

    __tablename__ = "latest_metrics"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)
    step: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[float] = mapped_column(Float)
    __table_args__ = (Index("ix_latest_metrics_key_value", "key", "value"),)


class IngestedBatchRow(Base):
    """Ids of write batches already applied, so a client's retry never double-logs."""

    __tablename__ = "ingested_batches"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[float] = mapped_column(Float)


class TagRow(Base):
    __tablename__ = "tags"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ArtifactRow(Base):
    __tablename__ = "artifacts"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)


class DatasetVersionRow(Base):
    __tablename__ = "dataset_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset: Mapped[str] = mapped_column(String(256))
    version: Mapped[int] = mapped_column(Integer)
    object_id: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int | None] = mapped_column(Integer)
    schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(8), default="file", server_default="file")
    files: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    __table_args__ = (
        Index("ux_dataset_versions_version", "dataset", "version", unique=True),
        Index("ux_dataset_versions_object", "dataset", "object_id", unique=True),
    )


class RunInputRow(Base):
    __tablename__ = "run_inputs"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    dataset_version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_versions.id"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(64))


class RunLineageRow(Base):
    """An edge of the pipeline DAG as run: `run_id` consumed an output of `upstream_run_id`."""

    __tablename__ = "run_lineage"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    upstream_run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.id"), primary_key=True, index=True
    )


class RegisteredModelRow(Base):
    __tablename__ = "registered_models"
    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float)
    description: Mapped[str] = mapped_column(Text, default="")


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    model_name: Mapped[str] = mapped_column(ForeignKey("registered_models.name"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[float] = mapped_column(Float)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)


class AliasRow(Base):
    __tablename__ = "aliases"
    model_name: Mapped[str] = mapped_column(ForeignKey("registered_models.name"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class AuditEventRow(Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    timestamp: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(64))
    model_name: Mapped[str] = mapped_column(String(256), index=True)
    alias: Mapped[str | None] = mapped_column(String(64))
    from_version: Mapped[int | None] = mapped_column(Integer)
    to_version: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)


class InferenceLogRow(Base):
    __tablename__ = "inference_log"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    timestamp: Mapped[float] = mapped_column(Float)
    model_name: Mapped[str] = mapped_column(String(256))
    model_version: Mapped[int] = mapped_column(Integer)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    prediction: Mapped[Any] = mapped_column(JSON)
    __table_args__ = (Index("ix_inference_log_model_time", "model_name", "timestamp"),)


class LabelRow(Base):
    __tablename__ = "labels"
    prediction_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    timestamp: Mapped[float] = mapped_column(Float)


class AlertRow(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    timestamp: Mapped[float] = mapped_column(Float)
    model_name: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Alerts with the same key for the same model are one incident (see monitoring alerts).
    dedup_key: Mapped[str | None] = mapped_column(String(256))
    #: Path or URL of the report that explains the alert.
    report: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_alerts_dedup", "model_name", "dedup_key", "timestamp"),)


class LoopLeaseRow(Base):
    """Which controller may act on a model until `expires_at` (epoch seconds)."""

    __tablename__ = "loop_leases"
    model_name: Mapped[str] = mapped_column(String(256), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)


class LoopStateRow(Base):
    """The loop controller's durable state for one model (JSON), so it survives restarts."""

    __tablename__ = "loop_state"
    model_name: Mapped[str] = mapped_column(String(256), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[float] = mapped_column(Float)
