"""Prometheus gauges of the latest drift scores and live metrics, per model.

Exposed names (text format 0.0.4, as ``prometheus_client`` renders it):

- ``mlcycle_drift_share{model}``: drifted / tested features of the last window, in [0, 1];
- ``mlcycle_feature_drift_score{model,feature}``: the feature's last drift score (PSI ...);
- ``mlcycle_live_metric{model,metric}``: the last live metric value on labelled rows;
- ``mlcycle_alerts_total{model,kind}``: alerts raised by this process.

One process-wide set (:func:`monitoring_gauges`) is what ``mlcycle server``
and ``mlcycle loop run`` serve at ``/metrics``; tests make their own.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeGuard

from mlcycle.monitoring._jsonsafe import json_safe

if TYPE_CHECKING:
    from mlcycle.monitoring._alerts import Alert
    from mlcycle.monitoring._report import WindowSummary


class MonitoringGauges:
    """The monitoring metrics in their own ``CollectorRegistry`` (thread-safe)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.registry = CollectorRegistry()
        self.drift_share = Gauge(
            "mlcycle_drift_share",
            "Drift share of the last window",
            ["model"],
            registry=self.registry,
        )
        self.feature_score = Gauge(
            "mlcycle_feature_drift_score",
            "Drift score of a feature in the last window",
            ["model", "feature"],
            registry=self.registry,
        )
        self.live_metric = Gauge(
            "mlcycle_live_metric",
            "Live metric on labelled rows",
            ["model", "metric"],
            registry=self.registry,
        )
        self.alerts = Counter(
            "mlcycle_alerts", "Alerts raised", ["model", "kind"], registry=self.registry
        )

    def observe(
        self,
        model: str,
        *,
        drift_share: float | None = None,
        feature_scores: Mapping[str, float | None] | None = None,
        live_metrics: Mapping[str, float | None] | None = None,
    ) -> None:
        """Set the gauges of `model`; None and NaN values leave a gauge as it was."""
        if _finite(drift_share):
            self.drift_share.labels(model).set(drift_share)
        for feature, score in (feature_scores or {}).items():
            if _finite(score):
                self.feature_score.labels(model, feature).set(score)
        for metric, value in (live_metrics or {}).items():
            if _finite(value):
                self.live_metric.labels(model, metric).set(value)

    def observe_drift(self, model: str, result: Any) -> None:
        """Set drift share and per-feature scores from a DriftResult (or its ``to_dict()``)."""
        data = json_safe(result)
        scores = {f["feature"]: f.get("score", f.get("psi")) for f in data.get("features", [])}
        self.observe(model, drift_share=data.get("share"), feature_scores=scores)

    def observe_window(self, model: str, window: WindowSummary) -> None:
        """Set the gauges from one window's summary."""
        self.observe(
            model,
            drift_share=window.drift_share,
            feature_scores=window.feature_scores,
            live_metrics=window.live_metrics,
        )

    def observe_alert(self, alert: Alert) -> None:
        """Count `alert`; set the gauges from its details (``drift_share``, ``feature_scores``,
        ``live`` or ``live_metrics``) when present."""
        self.alerts.labels(alert.model_name, alert.kind).inc()
        details = json_safe(dict(alert.details))
        live = details.get("live_metrics", details.get("live"))
        self.observe(
            alert.model_name,
            drift_share=details.get("drift_share"),
            feature_scores=details.get("feature_scores"),
            live_metrics=live if isinstance(live, dict) else None,
        )

    def render(self) -> tuple[bytes, str]:
        """The text exposition of the gauges and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _finite(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_lock = threading.Lock()
_process_gauges: list[MonitoringGauges] = []


def monitoring_gauges() -> MonitoringGauges:
    """The process-wide :class:`MonitoringGauges` (created on first call)."""
    with _lock:
        if not _process_gauges:
            _process_gauges.append(MonitoringGauges())
        return _process_gauges[0]
