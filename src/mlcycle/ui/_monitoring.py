"""The monitoring page: deployments, drift and live metrics per window, alerts, reports.

The loop (`mlcycle loop`) keeps its per-window outcome in
`reports/loop-report.json` (see :func:`mlcycle.loop.write_loop_report`);
nothing per window is in the database. This page reads that file (and
`reports/*/loop-report.json`, one per model folder) and charts drift share,
the live metric against the first model's, and the version in production.
Without a loop report, the drift share recorded in alerts is charted
instead. Deployments are the aliases of registered models; alerts come
from :func:`mlcycle.monitoring.list_alerts`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcycle.loop import LoopDecision, loop_history
from mlcycle.monitoring import AlertRecord, list_alerts
from mlcycle.registry import list_models
from mlcycle.store import Workspace
from mlcycle.ui._charts import ChartSpec, category_chart
from mlcycle.ui._format import timestamp

LOOP_REPORT = "loop-report.json"
MAX_REPORTS = 200
ALERT_LIMIT = 100


@dataclass(frozen=True)
class LoopView:
    """One loop report: where it is, for which model, its windows and charts."""

    path: str
    html: str | None
    model: str
    metric: str
    windows: list[dict[str, Any]]
    charts: list[ChartSpec]
    totals: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class ReportFile:
    """A file under `reports/`: its path relative to that folder, size and time."""

    path: str
    size: int
    modified: float


@dataclass(frozen=True)
class Monitoring:
    """Everything `monitoring.html` shows."""

    deployments: list[tuple[str, str, int]]
    loops: list[LoopView]
    alert_charts: list[ChartSpec]
    alerts: list[AlertRecord]
    reports: list[ReportFile]
    models: list[str]
    model: str
    decisions: list[LoopDecision] = field(default_factory=list)


def _loop_charts(prefix: str, metric: str, windows: list[dict[str, Any]]) -> list[ChartSpec]:
    labels = [str(w.get("window", i)) for i, w in enumerate(windows)]

    def col(key: str) -> list[Any]:
        return [w.get(key) for w in windows]

    return [
        category_chart(
            f"{prefix}-drift", "Drift share", labels, {"drift share": col("drift_share")},
            xlabel="window",
        ),
        category_chart(
            f"{prefix}-live", f"Live {metric}", labels,
            {"model in production": col("live_metric"), "first model": col("baseline_metric")},
            xlabel="window",
        ),
        category_chart(
            f"{prefix}-version", "Version in production", labels, {"version": col("version")},
            xlabel="window", stepped=True,
        ),
    ]  # fmt: skip


def read_loop_report(ws: Workspace, path: Path, index: int) -> LoopView:
    """Read one `loop-report.json`; an unreadable file gives a view with `error` set."""
    rel = path.relative_to(ws.reports_dir).as_posix()
    html = path.with_suffix(".html")
    html_rel = html.relative_to(ws.reports_dir).as_posix() if html.is_file() else None
    model = path.parent.name if path.parent != ws.reports_dir else ws.config.model_name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        metric = str(data.get("metric", "metric"))
        windows = [dict(w) for w in data.get("windows", [])]
    except (OSError, ValueError, TypeError, AttributeError) as err:
        return LoopView(rel, html_rel, model, "", [], [], {}, f"cannot read {rel}: {err}")
    keys = ("requests", "failed_requests", "retrains", "promotions")
    totals = {k: data[k] for k in keys if k in data}
    charts = _loop_charts(f"loop{index}", metric, windows)
    return LoopView(rel, html_rel, model, metric, windows, charts, totals)


def loop_reports(ws: Workspace) -> list[LoopView]:
    """The loop reports in `reports/` and its direct sub-folders."""
    root = ws.reports_dir
    paths = [root / LOOP_REPORT, *sorted(root.glob(f"*/{LOOP_REPORT}"))]
    return [read_loop_report(ws, p, i) for i, p in enumerate(p for p in paths if p.is_file())]


def report_files(ws: Workspace) -> list[ReportFile]:
    """HTML and JSON files under `reports/`, newest first (at most 200)."""
    root = ws.reports_dir
    if not root.is_dir():
        return []
    files = [p for p in root.rglob("*") if p.suffix in {".html", ".json"} and p.is_file()]
    stats = [(p, p.stat()) for p in files]
    stats.sort(key=lambda ps: ps[1].st_mtime, reverse=True)
    return [
        ReportFile(p.relative_to(root).as_posix(), st.st_size, st.st_mtime)
        for p, st in stats[:MAX_REPORTS]
    ]


def alert_charts(alerts: list[AlertRecord]) -> list[ChartSpec]:
    """Per model, the drift share recorded in its alerts over time (oldest first)."""
    charts: list[ChartSpec] = []
    for model in sorted({a.model_name for a in alerts}):
        points = [a for a in reversed(alerts) if a.model_name == model]
        points = [a for a in points if isinstance(a.details.get("drift_share"), int | float)]
        if points:
            labels = [timestamp(a.timestamp) for a in points]
            shares = {"drift share": [a.details["drift_share"] for a in points]}
            title = f"{model}: drift share at alerts"
            chart_id = f"alerts-{len(charts)}"
            charts.append(category_chart(chart_id, title, labels, shares, xlabel="alert"))
    return charts


def monitoring(ws: Workspace, model: str = "") -> Monitoring:
    """Build the monitoring page, for every model or only `model`."""
    registered = list_models(ws)
    names = [m["name"] for m in registered]
    deployments = [
        (m["name"], alias, version)
        for m in registered
        if not model or m["name"] == model
        for alias, version in sorted(m["aliases"].items())
    ]
    loops = [v for v in loop_reports(ws) if not model or v.model == model]
    alerts = list_alerts(ws, model or None, ALERT_LIMIT)
    charts = [] if loops else alert_charts(alerts)
    decisions = loop_history(ws, model or None, ALERT_LIMIT)
    return Monitoring(deployments, loops, charts, alerts, report_files(ws), names, model, decisions)
