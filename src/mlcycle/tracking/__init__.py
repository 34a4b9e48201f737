"""Tracking: experiments, runs, params, metrics, tags, artifacts and inputs."""

from __future__ import annotations

from mlcycle.tracking._environment import environment, git_commit
from mlcycle.tracking._queries import get_run, list_runs, metric_history
from mlcycle.tracking._records import MetricPoint, RunRecord
from mlcycle.tracking._run import FAILED, FINISHED, RUNNING, Run, experiment_id, start_run

__all__ = [
    "FAILED",
    "FINISHED",
    "RUNNING",
    "MetricPoint",
    "Run",
    "RunRecord",
    "environment",
    "experiment_id",
    "get_run",
    "git_commit",
    "list_runs",
    "metric_history",
    "start_run",
]
