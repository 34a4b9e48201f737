"""Tracking: experiments, runs, params, metrics, tags, artifacts, inputs, search.

Runs live in a tracking store: the workspace database (default) or a
tracking server (`MLCYCLE_TRACKING_URI`). Writes are buffered and batched
by a background writer per store.
"""

from __future__ import annotations

from mlcycle.tracking._batch import MetricColumns, NewRun, RunBatch, check_key
from mlcycle.tracking._environment import environment, git_commit
from mlcycle.tracking._mlflow_import import ImportProgress, ImportResult, import_mlflow
from mlcycle.tracking._queries import (
    experiment_names,
    get_run,
    list_runs,
    metric_history,
    metric_keys,
    metric_series,
    search_runs,
)
from mlcycle.tracking._records import MetricPoint, MetricSeries, RunRecord
from mlcycle.tracking._run import (
    FAILED,
    FINISHED,
    RUNNING,
    Run,
    attach_run,
    experiment_id,
    start_run,
)
from mlcycle.tracking._sql import SqlTrackingStore
from mlcycle.tracking._store import TrackingStore, store_for

__all__ = [
    "FAILED",
    "FINISHED",
    "RUNNING",
    "ImportProgress",
    "ImportResult",
    "MetricColumns",
    "MetricPoint",
    "MetricSeries",
    "NewRun",
    "Run",
    "RunBatch",
    "RunRecord",
    "SqlTrackingStore",
    "TrackingStore",
    "attach_run",
    "check_key",
    "environment",
    "experiment_id",
    "experiment_names",
    "get_run",
    "git_commit",
    "import_mlflow",
    "list_runs",
    "metric_history",
    "metric_keys",
    "metric_series",
    "search_runs",
    "start_run",
    "store_for",
]
