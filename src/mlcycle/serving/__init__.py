"""Serving: the FastAPI model server (OIP v2 + JSON), hot swaps, the inference log."""

from __future__ import annotations

from mlcycle.serving._app import create_app
from mlcycle.serving._batching import RequestTimeout, ServerBusy
from mlcycle.serving._holder import ModelHolder, Served, parse_model_ref
from mlcycle.serving._inference_log import (
    flush_inference_log,
    log_labels,
    log_predictions,
    read_inference_log,
    read_labels,
    scan_inference_log,
)
from mlcycle.serving._process import ServerProcess, serve, start_server_process
from mlcycle.serving._protocol import frame_from_oip
from mlcycle.serving._records import frame_from_records
from mlcycle.serving._rollback import RollbackEvent, RollbackGuard, VersionStats
from mlcycle.serving._rollout import Deployment, build_deployment
from mlcycle.serving._scoring import ScoringResult, score_file, score_parallel

__all__ = [
    "Deployment",
    "ModelHolder",
    "RequestTimeout",
    "RollbackEvent",
    "RollbackGuard",
    "ScoringResult",
    "Served",
    "ServerBusy",
    "ServerProcess",
    "VersionStats",
    "build_deployment",
    "create_app",
    "flush_inference_log",
    "frame_from_oip",
    "frame_from_records",
    "log_labels",
    "log_predictions",
    "parse_model_ref",
    "read_inference_log",
    "read_labels",
    "scan_inference_log",
    "score_file",
    "score_parallel",
    "serve",
    "start_server_process",
]
