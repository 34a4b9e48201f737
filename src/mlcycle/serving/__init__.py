"""Serving: the FastAPI model server (OIP v2 + JSON), hot swaps, the inference log."""

from __future__ import annotations

from mlcycle.serving._app import create_app
from mlcycle.serving._holder import ModelHolder, Served, parse_model_ref
from mlcycle.serving._inference_log import log_labels, log_predictions, read_inference_log
from mlcycle.serving._process import ServerProcess, serve, start_server_process
from mlcycle.serving._protocol import frame_from_oip, frame_from_records

__all__ = [
    "ModelHolder",
    "Served",
    "ServerProcess",
    "create_app",
    "frame_from_oip",
    "frame_from_records",
    "log_labels",
    "log_predictions",
    "parse_model_ref",
    "read_inference_log",
    "serve",
    "start_server_process",
]
