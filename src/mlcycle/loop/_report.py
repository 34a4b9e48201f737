"""Writing the loop's outcome for people (HTML with plots) and machines (JSON)."""

from __future__ import annotations

from pathlib import Path

from mlcycle.loop._replay import ReplayResult
from mlcycle.monitoring import render_loop_report, write_json


def write_loop_report(result: ReplayResult, folder: Path, *, title: str) -> tuple[Path, Path]:
    """Write `loop-report.html` and `loop-report.json` into `folder`; return both paths.

    The JSON holds the per-window table (`windows`), drift per feature
    (PSI) per window, gate decisions and request counts.
    """
    rows = [w.to_row() for w in result.windows]
    drift = {w.window: w.psi for w in result.windows}
    html = render_loop_report(
        rows, drift, title=title, path=folder / "loop-report.html", metric=result.metric
    )
    payload = {
        "metric": result.metric,
        "windows": rows,
        "drift_psi": drift,
        "drifted_features": {w.window: list(w.drifted_features) for w in result.windows},
        "live_metrics": {w.window: w.live_metrics for w in result.windows},
        "gates": {w.window: w.gate for w in result.windows if w.gate is not None},
        "requests": result.requests,
        "failed_requests": result.failed_requests,
        "retrains": result.retrains,
        "promotions": result.promotions,
    }
    return html, write_json(payload, folder / "loop-report.json")
