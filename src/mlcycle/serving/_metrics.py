"""Prometheus metrics of the model server (one registry per app)."""

from __future__ import annotations

from typing import TYPE_CHECKING

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


class ServerMetrics:
    """Request counts and latencies per route and status; predictions per model version.

    Exposed names: `mlcycle_requests_total{route,status}`,
    `mlcycle_request_duration_seconds{route}` (histogram, seconds),
    `mlcycle_predictions_total{model,version}` (rows),
    `mlcycle_model_version{model}` (the version being served).
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mlcycle_requests", "HTTP requests", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "mlcycle_request_duration_seconds",
            "Request latency in seconds",
            ["route"],
            registry=self.registry,
        )
        self.predictions = Counter(
            "mlcycle_predictions", "Rows predicted", ["model", "version"], registry=self.registry
        )
        self.version = Gauge(
            "mlcycle_model_version", "Model version being served", ["model"], registry=self.registry
        )

    def observe(self, route: str, status: int, seconds: float) -> None:
        """Count one request on `route` with `status` taking `seconds`."""
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def predicted(self, model: str, version: int, rows: int) -> None:
        """Count `rows` predictions by `model` at `version`."""
        self.predictions.labels(model, str(version)).inc(rows)

    def render(self, served: Served) -> tuple[bytes, str]:
        """Return the text exposition and its content type."""
        self.version.labels(served.name).set(served.version)
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
