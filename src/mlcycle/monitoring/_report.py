"""Self-contained HTML reports (inline PNG charts, no external URL, no JavaScript) and JSON.

Charts are drawn on :class:`matplotlib.figure.Figure` objects with the Agg
canvas, so no pyplot global state and no GUI backend is touched
(Matplotlib's "Embedding in a web application server" recipe).
"""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlcycle.core import atomic_write_text
from mlcycle.monitoring._drift import DriftResult, FeatureDrift
from mlcycle.monitoring._jsonsafe import json_safe
from mlcycle.monitoring._stats import category_counts

MAX_DISTRIBUTION_PLOTS = 12
_REF_COLOUR, _CUR_COLOUR = "#4c72b0", "#dd8452"
_OK_COLOUR, _DRIFT_COLOUR = "#8da0cb", "#d62728"

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       margin: 2rem auto; max-width: 1100px; color: #222; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.6rem; border-bottom: 2px solid #ddd; padding-bottom: .3rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .92rem; }
th, td { border: 1px solid #ddd; padding: .35rem .7rem; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
tr.drifted td { background: #fde8e8; }
.summary td:first-child { font-weight: 600; }
.badge { padding: .1rem .5rem; border-radius: .3rem; color: #fff; }
.yes { background: #d62728; } .no { background: #2ca02c; }
figure { margin: 1rem 0; } img { max-width: 100%; height: auto; }
.grid { display: flex; flex-wrap: wrap; gap: 1rem; } .grid figure { width: 48%; }
"""


def _figure(width: float = 8.0, height: float = 4.0) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _img(fig: Any, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<figure><img alt="{escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "&ndash;"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return escape(str(value))


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], marks: Sequence[bool]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        f"<tr{' class=drifted' if mark else ''}>"
        + "".join(f"<td>{_fmt(v)}</td>" for v in row)
        + "</tr>"
        for row, mark in zip(rows, marks, strict=True)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _page(title: str, sections: Sequence[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><h1>{escape(title)}</h1>{''.join(sections)}</body></html>\n"
    )


def _badge(flag: bool) -> str:
    return f'<span class="badge {"yes" if flag else "no"}">{"yes" if flag else "no"}</span>'


def _drift_summary(result: DriftResult) -> str:
    tested = sum(f.tested for f in result.features)
    rows = [
        ("Dataset drifted", _badge(result.drifted)),
        ("Drift share", f"{result.share:.1%} ({len(result.drifted_features)} of {tested} tested)"),
        ("Reference rows", f"{result.n_reference:,}"),
        ("Current rows", f"{result.n_current:,}"),
    ]
    body = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in rows)
    return f'<h2>Summary</h2><table class="summary">{body}</table>'


def _psi_chart(features: Sequence[FeatureDrift]) -> str:
    if not features:
        return "<p>No features were tested.</p>"
    fig = _figure(8.0, max(2.0, 0.35 * len(features) + 1.0))
    ax = fig.add_subplot()
    values = [0.0 if math.isnan(f.psi) else f.psi for f in features]
    colours = [_DRIFT_COLOUR if f.drifted else _OK_COLOUR for f in features]
    ax.barh([f.feature for f in features], values, color=colours)
    ax.invert_yaxis()
    ax.set_xlabel("PSI (red: drifted)")
    ax.set_title("Population Stability Index per feature")
    return "<h2>PSI per feature</h2>" + _img(fig, "PSI per feature")


def _feature_table(features: Sequence[FeatureDrift]) -> str:
    headers = ["feature", "kind", "test", "statistic", "p-value", "PSI", "drifted", "note"]
    rows = [
        (f.feature, f.kind, f.test, f.statistic, f.p_value, f.psi, f.drifted, f.note)
        for f in features
    ]
    return "<h2>Features</h2>" + _table(headers, rows, [f.drifted for f in features])


def _numeric_plot(ax: Any, ref: pd.Series, cur: pd.Series) -> None:
    r = pd.to_numeric(ref, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    c = pd.to_numeric(cur, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    r, c = r[np.isfinite(r)], c[np.isfinite(c)]
    edges = np.histogram_bin_edges(np.concatenate([r, c]), bins=40)
    ax.hist(r, bins=edges, density=True, alpha=0.55, color=_REF_COLOUR, label="reference")
    ax.hist(c, bins=edges, density=True, alpha=0.55, color=_CUR_COLOUR, label="current")
    ax.set_ylabel("density")


def _categorical_plot(ax: Any, ref: pd.Series, cur: pd.Series) -> None:
    counts = category_counts(ref.dropna(), cur.dropna())
    shares = (counts / counts.sum().replace(0, 1)).head(30)
    x = np.arange(len(shares))
    ax.bar(x - 0.2, shares["reference"], 0.4, color=_REF_COLOUR, label="reference")
    ax.bar(x + 0.2, shares["current"], 0.4, color=_CUR_COLOUR, label="current")
    ax.set_xticks(x, [str(i) for i in shares.index], rotation=45, ha="right")
    ax.set_ylabel("share of rows")


def _distribution(feature: FeatureDrift, reference: pd.DataFrame, current: pd.DataFrame) -> str:
    fig = _figure(5.5, 3.5)
    ax = fig.add_subplot()
    ref, cur = reference[feature.feature], current[feature.feature]
    if feature.kind == "numeric":
        _numeric_plot(ax, ref, cur)
    else:
        _categorical_plot(ax, ref, cur)
    ax.set_title(f"{feature.feature} (PSI {feature.psi:.3g})")
    ax.legend()
    return _img(fig, f"distribution of {feature.feature}")


def render_drift_report(
    result: DriftResult,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    title: str,
    path: Path,
) -> Path:
    """Write a self-contained HTML drift report.

    Sections: summary (drift share, dataset drifted, row counts), a bar
    chart of PSI per feature (drifted ones in red), the per-feature table,
    and reference-vs-current distributions of the first 12 drifted
    features (density histograms on shared bins, or category shares).
    Charts are inline base64 PNG; the page has no script and no external URL.

    Args:
        result: the output of :func:`detect_drift` on these frames.
        reference: the reference window.
        current: the current window.
        title: page title (escaped).
        path: where to write the ``.html`` file (atomically; parents created).

    Returns:
        `path`.
    """
    drifted = [f for f in result.features if f.drifted][:MAX_DISTRIBUTION_PLOTS]
    plots = "".join(_distribution(f, reference, current) for f in drifted)
    sections = [
        _drift_summary(result),
        _psi_chart(result.features),
        _feature_table(result.features),
    ]
    if drifted:
        sections.append(f'<h2>Drifted feature distributions</h2><div class="grid">{plots}</div>')
    return atomic_write_text(path, _page(title, sections))


def _heatmap(labels: Sequence[str], drift_by_window: Mapping[str, Mapping[str, float]]) -> str:
    features = sorted({f for w in labels for f in drift_by_window.get(w, {})})
    if not features:
        return "<p>No per-feature drift recorded.</p>"
    grid = np.array(
        [[_num(drift_by_window.get(w, {}).get(f)) for w in labels] for f in features], dtype=float
    )
    fig = _figure(max(6.0, 0.5 * len(labels) + 3.0), max(2.5, 0.35 * len(features) + 1.5))
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap="Reds", vmin=0.0)
    ax.set_xticks(np.arange(len(labels)), list(labels), rotation=45, ha="right")
    ax.set_yticks(np.arange(len(features)), features)
    ax.set_title("PSI per feature and window")
    fig.colorbar(image, ax=ax, label="PSI")
    return _img(fig, "drift per feature over windows")


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def _metric_chart(windows: Sequence[Mapping[str, Any]], labels: Sequence[str], metric: str) -> str:
    fig = _figure(8.0, 3.5)
    ax = fig.add_subplot()
    x = np.arange(len(labels))
    live = [_num(w.get("live_metric")) for w in windows]
    base = [_num(w.get("baseline_metric")) for w in windows]
    ax.plot(x, live, marker="o", color=_CUR_COLOUR, label="model in production")
    ax.plot(x, base, marker="s", linestyle="--", color=_REF_COLOUR, label="first model")
    ax.set_xticks(x, list(labels), rotation=45, ha="right")
    ax.set_ylabel(metric)
    ax.set_title(f"Live {metric} per window")
    ax.legend()
    return _img(fig, f"live {metric} over time")


def _version_chart(windows: Sequence[Mapping[str, Any]], labels: Sequence[str]) -> str:
    fig = _figure(8.0, 2.5)
    ax = fig.add_subplot()
    x = np.arange(len(labels))
    ax.step(x, [_num(w.get("version")) for w in windows], where="post", marker="o")
    ax.set_xticks(x, list(labels), rotation=45, ha="right")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("version")
    ax.set_title("Model version in production")
    return _img(fig, "model version in production per window")


def render_loop_report(
    windows: Sequence[Mapping[str, Any]],
    drift_by_window: Mapping[str, Mapping[str, float]],
    *,
    title: str,
    path: Path,
    metric: str,
) -> Path:
    """Write a self-contained HTML report of a monitoring loop over time windows.

    Charts: (a) heatmap of PSI, features x windows; (b) `metric` per
    window of the model in production and of the first model on the same
    rows (lines with markers; None values leave gaps); (c) the model
    version in production per window (step plot). Then the window table.

    Args:
        windows: one mapping per window, in time order, with keys
            ``window`` (str), ``rows`` (int), ``drift_share`` (float),
            ``live_metric`` (float | None), ``baseline_metric`` (float | None),
            ``version`` (int) and ``action`` (str).
        drift_by_window: window label -> {feature: PSI}.
        title: page title (escaped).
        path: where to write the ``.html`` file (atomically).
        metric: the metric's name, e.g. ``"mae"``, for labels.

    Returns:
        `path`.
    """
    labels = [str(w.get("window", i)) for i, w in enumerate(windows)]
    keys = ["window", "rows", "drift_share", "live_metric", "baseline_metric", "version", "action"]
    headers = ["window", "rows", "drift share", f"live {metric}", f"first model {metric}"]
    rows = [[w.get(k) for k in keys] for w in windows]
    sections = [
        "<h2>Drift per feature (PSI)</h2>" + _heatmap(labels, drift_by_window),
        f"<h2>Live {escape(metric)}</h2>" + _metric_chart(windows, labels, metric),
        "<h2>Model in production</h2>" + _version_chart(windows, labels),
        "<h2>Windows</h2>" + _table([*headers, "version", "action"], rows, [False] * len(rows)),
    ]
    return atomic_write_text(path, _page(title, sections))


def write_json(data: Any, path: Path) -> Path:
    """Write `data` as indented JSON (2 spaces) atomically; NaN and inf become null.

    Args:
        data: nested dicts, lists and scalars (NumPy scalars allowed).
        path: destination file.

    Returns:
        `path`.
    """
    text = json.dumps(json_safe(data), indent=2, allow_nan=False, ensure_ascii=False)
    return atomic_write_text(path, text + "\n")
