"""Monitoring: data and prediction drift, model performance, reports and alerts.

`import mlcycle.monitoring` loads NumPy and pandas only; SciPy,
scikit-learn, Matplotlib, SQLAlchemy queries and httpx are imported when
first used.
"""

from __future__ import annotations

from mlcycle.models import (  # monitoring scores live predictions as training scores models
    PRIMARY_METRIC,
    classification_metrics,
    regression_metrics,
)
from mlcycle.monitoring._alerts import Alert, AlertRecord, list_alerts, post_webhook, raise_alert
from mlcycle.monitoring._drift import (
    DriftResult,
    FeatureDrift,
    chi2_test,
    detect_drift,
    ks_test,
    prediction_drift,
    psi,
)
from mlcycle.monitoring._report import render_drift_report, render_loop_report, write_json

__all__ = [
    "PRIMARY_METRIC",
    "Alert",
    "AlertRecord",
    "DriftResult",
    "FeatureDrift",
    "chi2_test",
    "classification_metrics",
    "detect_drift",
    "ks_test",
    "list_alerts",
    "post_webhook",
    "prediction_drift",
    "psi",
    "raise_alert",
    "regression_metrics",
    "render_drift_report",
    "render_loop_report",
    "write_json",
]
