"""Prometheus metrics of the model server (one registry per app, or shared by workers).

With several workers (`mlcycle serve --workers N`) the server sets
`PROMETHEUS_MULTIPROC_DIR` before the workers start; every worker then
writes its samples to memory-mapped files there and `/metrics`, whichever
worker answers, reports the sum over all workers (prometheus_client's
multiprocess mode).
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

if TYPE_CHECKING:
    from mlcycle.serving._holder import Served

_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_ROWS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)

# The model and version that answered the current request, set by the predictor
# and read by the metrics middleware (same task, so a context variable carries it).
_answered: ContextVar[tuple[str, str]] = ContextVar("mlcycle_answered", default=("", ""))


def note_model(name: str, version: int) -> None:
    """Record that `name` at `version` answers the current request (for its labels)."""
    _answered.set((name, str(version)))


def begin_request() -> None:
    """Forget the model of a previous request (a new request has no model yet)."""
    _answered.set(("", ""))


def multiprocess() -> bool:
    """Whether metrics are shared between worker processes."""
    return "PROMETHEUS_MULTIPROC_DIR" in os.environ


class ServerMetrics:
    """The server's metrics.

    Exposed names: `mlcycle_requests_total{model,version,route,status}`,
    `mlcycle_request_duration_seconds{model,version,route}` (histogram,
    seconds), `mlcycle_errors_total{route,error}` (error class name),
    `mlcycle_batch_size{model,version}` (histogram, rows per model call),
    `mlcycle_batch_requests{model,version}` (histogram, requests per model
    call), `mlcycle_queue_depth{model,version}` (requests waiting),
    `mlcycle_predictions_total{model,version}` (rows) and
    `mlcycle_model_version{model}` (the version being served). `model` and
    `version` are empty for requests no model answered.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg: dict[str, Any] = {"registry": None if multiprocess() else self.registry}
        model = ["model", "version"]
        self.requests = Counter(
            "mlcycle_requests", "HTTP requests", [*model, "route", "status"], **reg
        )
        self.latency = Histogram(
            "mlcycle_request_duration_seconds", "Request latency in seconds",
            [*model, "route"], buckets=_SECONDS, **reg,
        )  # fmt: skip
        self.errors = Counter("mlcycle_errors", "Failed requests", ["route", "error"], **reg)
        self.batch_rows = Histogram(
            "mlcycle_batch_size", "Rows per model call", model, buckets=_ROWS, **reg
        )
        self.batch_requests = Histogram(
            "mlcycle_batch_requests", "Requests per model call", model, buckets=_ROWS, **reg
        )
        self.queue = Gauge(
            "mlcycle_queue_depth", "Requests waiting for the model", model,
            multiprocess_mode="livesum", **reg,
        )  # fmt: skip
        self.predictions = Counter("mlcycle_predictions", "Rows predicted", model, **reg)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.version = Gauge(
            "mlcycle_model_version", "Model version being served", ["model"],
            multiprocess_mode="livemax", **reg,
        )  # fmt: skip

    def _child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, remembered: `labels()` takes a lock and builds a key,
        several microseconds on every request (label sets are few: versions x routes)."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(self, route: str, status: int, seconds: float) -> None:
        """Count one request on `route` with `status` taking `seconds`."""
        name, version = _answered.get()
        self._child(self.requests, name, version, route, str(status)).inc()
        self._child(self.latency, name, version, route).observe(seconds)

    def failed(self, route: str, error: str) -> None:
        """Count one request on `route` that failed with error class `error`."""
        self._child(self.errors, route, error).inc()

    def batched(self, model: str, version: int, rows: int, requests: int) -> None:
        """Record one model call of `requests` requests and `rows` rows."""
        self._child(self.batch_rows, model, str(version)).observe(rows)
        self._child(self.batch_requests, model, str(version)).observe(requests)

    def queued(self, model: str, version: int, depth: int) -> None:
        """Set the number of requests waiting for `model` at `version`."""
        self._child(self.queue, model, str(version)).set(depth)

    def predicted(self, model: str, version: int, rows: int) -> None:
        """Count `rows` predictions by `model` at `version`."""
        self._child(self.predictions, model, str(version)).inc(rows)

    def render(self, served: Served) -> tuple[bytes, str]:
        """Return the text exposition and its content type."""
        self.version.labels(served.name).set(served.version)
        if not multiprocess():
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess as mp

        registry = CollectorRegistry()
        mp.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
