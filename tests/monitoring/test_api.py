"""The public API of mlcycle.monitoring is pinned, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import mlcycle.monitoring


def test_public_names_are_pinned() -> None:
    assert sorted(mlcycle.monitoring.__all__) == [
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
        "PRIMARY_METRIC",
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
    for name in mlcycle.monitoring.__all__:
        assert getattr(mlcycle.monitoring, name).__doc__


def test_import_does_not_load_heavy_dependencies() -> None:
    code = (
        "import sys, mlcycle.monitoring; "
        "print(sorted(m for m in ('scipy', 'sklearn', 'matplotlib', 'httpx') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
