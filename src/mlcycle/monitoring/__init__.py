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
from mlcycle.monitoring._alerts import (
    Alert,
    AlertOutcome,
    AlertRecord,
    list_alerts,
    post_webhook,
    raise_alert,
    slack_payload,
)
from mlcycle.monitoring._channels import (
    AlertChannel,
    EmailChannel,
    LogChannel,
    PrometheusChannel,
    Retrying,
    WebhookChannel,
    channels_from_config,
)
from mlcycle.monitoring._drift import (
    DriftResult,
    FeatureDrift,
    choose_test,
    column_drift,
    detect_drift,
    prediction_drift,
    target_drift,
)
from mlcycle.monitoring._gauges import MonitoringGauges, monitoring_gauges
from mlcycle.monitoring._outliers import OutlierDetector
from mlcycle.monitoring._quality import ColumnQuality, QualityResult, check_quality
from mlcycle.monitoring._report import (
    Distribution,
    Report,
    WindowSummary,
    render_drift_report,
    render_loop_report,
    write_json,
)
from mlcycle.monitoring._stats import (
    chi2_test,
    jensenshannon,
    ks_test,
    psi,
    wasserstein_norm,
)
from mlcycle.monitoring._streaming import StreamingMonitor
from mlcycle.monitoring._windows import Window, windows, with_reference

__all__ = [
    "PRIMARY_METRIC",
    "Alert",
    "AlertChannel",
    "AlertOutcome",
    "AlertRecord",
    "ColumnQuality",
    "Distribution",
    "DriftResult",
    "EmailChannel",
    "FeatureDrift",
    "LogChannel",
    "MonitoringGauges",
    "OutlierDetector",
    "PrometheusChannel",
    "QualityResult",
    "Report",
    "Retrying",
    "StreamingMonitor",
    "WebhookChannel",
    "Window",
    "WindowSummary",
    "channels_from_config",
    "check_quality",
    "chi2_test",
    "choose_test",
    "classification_metrics",
    "column_drift",
    "detect_drift",
    "jensenshannon",
    "ks_test",
    "list_alerts",
    "monitoring_gauges",
    "post_webhook",
    "prediction_drift",
    "psi",
    "raise_alert",
    "regression_metrics",
    "render_drift_report",
    "render_loop_report",
    "slack_payload",
    "target_drift",
    "wasserstein_norm",
    "windows",
    "with_reference",
    "write_json",
]
