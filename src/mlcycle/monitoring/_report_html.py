"""HTML of a :class:`~mlcycle.monitoring.Report`, rendered from its JSON-safe dict.

Styles are scoped under ``.mlcycle-report`` so the same fragment can sit
inside a Jupyter notebook without restyling it. Every value is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from mlcycle.monitoring._charts import distribution_chart, heatmap, line_chart, score_chart

_CSS = """
.mlcycle-report { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #222; line-height: 1.45; max-width: 1100px; }
.mlcycle-report h1 { font-size: 1.6rem; border-bottom: 2px solid #ddd; padding-bottom: .3rem; }
.mlcycle-report h2 { font-size: 1.25rem; margin-top: 2rem; }
.mlcycle-report table { border-collapse: collapse; margin: 1rem 0; font-size: .9rem; }
.mlcycle-report th, .mlcycle-report td { border: 1px solid #ddd; padding: .3rem .6rem;
  text-align: right; }
.mlcycle-report th { background: #f4f4f4; }
.mlcycle-report td:first-child, .mlcycle-report th:first-child { text-align: left; }
.mlcycle-report tr.drifted td { background: #fde8e8; }
.mlcycle-report .badge { padding: .1rem .5rem; border-radius: .3rem; color: #fff; }
.mlcycle-report .yes { background: #d62728; } .mlcycle-report .no { background: #2ca02c; }
.mlcycle-report figure { margin: .5rem 0; } .mlcycle-report svg { max-width: 100%; height: auto; }
.mlcycle-report .grid { display: flex; flex-wrap: wrap; gap: .5rem; }
.mlcycle-report .drifted-list li { font-weight: 600; color: #b01c1c; }
"""
_PAGE_CSS = "body { margin: 2rem auto; max-width: 1100px; padding: 0 1rem; }"
# Columns that lead the feature table; any other key a drift test adds follows.
_FEATURE_FIRST = ("feature", "kind", "test", "statistic", "p_value", "psi", "drifted")
_SHARE = (0.0, 1.0)
_SCORE_NAMES = {"score": "Drift score", "psi": "PSI", "statistic": "Test statistic"}


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "&ndash;"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return escape(", ".join(str(v) for v in value))
    return escape(str(value))


def _table(rows: Sequence[Mapping[str, Any]], first: Sequence[str] = (), css_id: str = "") -> str:
    leading = [k for k in first if any(k in r for r in rows)]
    keys = list(dict.fromkeys([*leading, *(k for r in rows for k in r)]))
    head = "".join(f"<th>{escape(k.replace('_', ' '))}</th>" for k in keys)
    body = "".join(
        f"<tr{' class=drifted' if r.get('drifted') is True else ''}>"
        + "".join(f"<td>{_fmt(r.get(k))}</td>" for k in keys)
        + "</tr>"
        for r in rows
    )
    ident = f' id="{css_id}"' if css_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(css_id: str, title: str, body: str) -> str:
    return f'<section id="{css_id}"><h2>{escape(title)}</h2>{body}</section>'


def _badge(flag: bool) -> str:
    return f'<span class="badge {"yes" if flag else "no"}">{"yes" if flag else "no"}</span>'


def _summary(data: Mapping[str, Any]) -> str:
    rows: list[tuple[str, str]] = []
    if data.get("model"):
        rows.append(("Model", escape(str(data["model"]))))
    created = datetime.fromtimestamp(data.get("created") or 0.0, UTC)
    rows.append(("Created", created.strftime("%Y-%m-%d %H:%M:%S UTC")))
    drift = data.get("drift") or {}
    if drift:
        tested = sum(1 for f in drift.get("features", []) if f.get("note") != "not enough data")
        drifted = drift.get("drifted_features", [])
        rows.append(("Dataset drifted", _badge(bool(drift.get("drifted")))))
        rows.append(
            (
                "Drift share",
                f"{(drift.get('share') or 0.0):.1%} ({len(drifted)} of {tested} tested)",
            )
        )
        rows.append(("Reference rows", f"{drift.get('n_reference') or 0:,}"))
        rows.append(("Current rows", f"{drift.get('n_current') or 0:,}"))
    if data.get("windows"):
        rows.append(("Windows", str(len(data["windows"]))))
    body = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in rows)
    return _section("summary", "Summary", f'<table class="summary">{body}</table>')


def _score(feature: Mapping[str, Any]) -> tuple[str, float | None]:
    """The feature's drift score: the first finite of ``score``, ``psi``, ``statistic``."""
    for key in ("score", "psi", "statistic"):
        value = feature.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            return key, float(value)
    return "score", None


def _drift_section(drift: Mapping[str, Any]) -> str:
    features = drift.get("features", [])
    drifted = drift.get("drifted_features", [])
    items = "".join(f"<li>{escape(str(n))}</li>" for n in drifted) or "<li>none</li>"
    scores = [_score(f) for f in features]
    name = _SCORE_NAMES[next((k for k, v in scores if v is not None), "score")]
    chart = score_chart(
        [str(f.get("feature")) for f in features],
        [v for _, v in scores],
        [bool(f.get("drifted")) for f in features],
        title=f"{name} per feature (red: drifted)",
    )
    table = _table(features, _FEATURE_FIRST, "feature-table")
    body = f'<ul class="drifted-list" id="drifted-features">{items}</ul>{chart}'
    return _section("drift", "Drifted features", f"{body}<h3>Per-feature drift tests</h3>{table}")


def _distributions(items: Sequence[Mapping[str, Any]]) -> str:
    charts = "".join(
        distribution_chart(
            d["labels"],
            d["reference"],
            d["current"],
            title=str(d["feature"]),
            overlap=d["kind"] == "numeric",
        )
        for d in items
    )
    title = "Distributions: reference vs current"
    return _section("distributions", title, f'<div class="grid">{charts}</div>')


def _series(windows: Sequence[Mapping[str, Any]], key: str) -> list[float | None]:
    return [w.get(key) for w in windows]


def _over_time(windows: Sequence[Mapping[str, Any]]) -> list[str]:
    labels = [str(w.get("window")) for w in windows]
    out = []
    if any(v is not None for v in _series(windows, "drift_share")):
        chart = line_chart(
            labels,
            {"drift share": _series(windows, "drift_share")},
            title="Drift share per window",
            y_label="share of features",
            y_range=_SHARE,
        )
        out.append(
            _section("drift-over-time", "Drift over time", chart + _heatmap(labels, windows))
        )
    metrics = list(dict.fromkeys(k for w in windows for k in w.get("live_metrics") or {}))
    if metrics:
        series = {m: [(w.get("live_metrics") or {}).get(m) for w in windows] for m in metrics}
        chart = line_chart(labels, series, title="Live metrics per window", y_label="value")
        out.append(_section("live-metrics", "Live metrics", chart))
    for key, title in (("label_coverage", "Label coverage"), ("outlier_share", "Outlier share")):
        if any(v is not None for v in _series(windows, key)):
            chart = line_chart(
                labels,
                {title.lower(): _series(windows, key)},
                title=f"{title} per window",
                y_label="share of rows",
                y_range=_SHARE,
            )
            out.append(_section(key.replace("_", "-"), title, chart))
    return out


def _heatmap(labels: Sequence[str], windows: Sequence[Mapping[str, Any]]) -> str:
    features = sorted({f for w in windows for f in w.get("feature_scores") or {}})
    if not features:
        return ""
    grid = [[(w.get("feature_scores") or {}).get(f) for w in windows] for f in features]
    return heatmap(features, labels, grid, title="Drift score per feature and window")


def _windows_table(windows: Sequence[Mapping[str, Any]]) -> str:
    rows = [
        {k: v for k, v in w.items() if k not in ("feature_scores", "live_metrics")}
        | dict(w.get("live_metrics") or {})
        for w in windows
    ]
    return _section("windows", "Windows", _table(rows))


def _sections(data: Mapping[str, Any]) -> list[str]:
    out = [_summary(data)]
    if data.get("drift"):
        out.append(_drift_section(data["drift"]))
    if data.get("distributions"):
        out.append(_distributions(data["distributions"]))
    windows = data.get("windows") or []
    out += _over_time(windows)
    if windows:
        out.append(_windows_table(windows))
    if data.get("quality"):
        out.append(_section("quality", "Data quality", _table(data["quality"])))
    return out


def render_fragment(data: Mapping[str, Any]) -> str:
    """The report as one ``<div class="mlcycle-report">`` with its own ``<style>``."""
    title = f"<h1>{escape(str(data.get('title', 'Report')))}</h1>"
    return (
        f'<div class="mlcycle-report"><style>{_CSS}</style>{title}{"".join(_sections(data))}</div>'
    )


def render_page(data: Mapping[str, Any]) -> str:
    """The report as a whole HTML5 document (UTF-8, no script, no external URL)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(str(data.get('title', 'Report')))}</title>"
        f"<style>{_PAGE_CSS}</style></head>"
        f"<body>{render_fragment(data)}</body></html>\n"
    )
