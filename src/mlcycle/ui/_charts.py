"""Chart data for the browser: metric series downsampled on the server, as uPlot wants them.

A chart spec is a JSON-safe dict that `static/charts.js` draws with uPlot::

    {"id": "m-0", "title": "mae", "xlabel": "step",
     "x": [0, 10, ...],                      # ascending numbers
     "series": [{"label": "run a", "y": [3.1, null, ...], "colour": "#4e79a7"}],
     "ticks": ["2012-01", ...] | null,       # category labels when x is 0, 1, 2 ...
     "note": "1,000 of 100,000 points (LTTB)",
     "stepped": false}                        # step lines, whole-number y ticks

Every series is downsampled with LTTB (:func:`mlcycle.tracking._downsample.downsample`)
to at most `max_points`, so a chart of a 100,000-point series ships about
1,000 points and stays smooth. Non-finite values cannot be drawn: they are
dropped and counted in the note. `null` marks a step a series has no point at.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mlcycle.store import Workspace
from mlcycle.tracking import MetricSeries, metric_series
from mlcycle.tracking._downsample import downsample

DEFAULT_POINTS = 1000
MAX_CHARTS = 30
#: Series colours (Tableau 10): series `i` of a chart, or run `i` of a comparison.
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip

ChartSpec = dict[str, Any]


def _none_for_nan(values: npt.NDArray[np.float64]) -> list[float | None]:
    return [None if math.isnan(v) else v for v in values.tolist()]


def _note(shown: int, total: int, dropped: int) -> str:
    parts = []
    if shown < total - dropped:
        parts.append(f"{shown:,} of {total:,} points drawn (LTTB)")
    if dropped:
        parts.append(f"{dropped:,} non-finite value{'s' if dropped != 1 else ''} not drawn")
    return "; ".join(parts)


def overlay(
    series: Sequence[MetricSeries],
) -> tuple[list[float], list[list[float | None]]]:
    """Align several series on the union of their steps; a missing step is None.

    Returns:
        (x, ys): the sorted union of steps, and per series its value at each
        step (the last point logged at a step wins).
    """
    if not series:
        return [], []
    x = np.unique(np.concatenate([s.steps for s in series]))
    ys = []
    for s in series:
        y = np.full(len(x), np.nan)
        y[np.searchsorted(x, s.steps)] = s.values
        ys.append(_none_for_nan(y))
    return x.astype(np.float64).tolist(), ys


def colour(i: int) -> str:
    """The colour of series (or run) `i`."""
    return PALETTE[i % len(PALETTE)]


def metric_chart(
    chart_id: str,
    key: str,
    runs: Sequence[tuple[str, MetricSeries]],
    max_points: int = DEFAULT_POINTS,
    colours: Sequence[str] = (),
) -> ChartSpec:
    """The chart of metric `key`: one series per `(label, full series)` pair, downsampled.

    `colours` are the series' colours (default: :data:`PALETTE` in order).
    """
    colours = list(colours) or [colour(i) for i in range(len(runs))]
    small = [downsample(s, max_points) for _, s in runs]
    x, ys = overlay(small)
    total = sum(len(s) for _, s in runs)
    dropped = sum(int(np.count_nonzero(~np.isfinite(s.values))) for _, s in runs)
    return {
        "id": chart_id,
        "title": key,
        "xlabel": "step",
        "x": x,
        "series": [
            {"label": label, "y": y, "colour": c}
            for (label, _), y, c in zip(runs, ys, colours, strict=True)
        ],
        "ticks": None,
        "note": _note(sum(len(s) for s in small), total, dropped),
        "stepped": False,
    }


def run_charts(
    ws: Workspace, run_id: str, keys: Sequence[str], max_points: int = DEFAULT_POINTS
) -> list[ChartSpec]:
    """Charts of the metrics of one run that have more than one point (at most 30)."""
    charts: list[ChartSpec] = []
    for key in keys:
        series = metric_series(ws, run_id, key)
        if len(series) > 1:
            charts.append(metric_chart(f"m-{len(charts)}", key, [(key, series)], max_points))
        if len(charts) >= MAX_CHARTS:
            break
    return charts


def compare_charts(
    ws: Workspace,
    runs: Sequence[tuple[str, str]],
    keys: Sequence[str],
    max_points: int = DEFAULT_POINTS,
) -> list[ChartSpec]:
    """One chart per metric in `keys`, one series per `(run id, label)` of `runs`.

    Run `i` has colour `i` in every chart. Runs without the metric are left
    out of its chart; metrics with at most one point in every run are not
    charted (the table shows them).
    """
    charts: list[ChartSpec] = []
    for key in keys:
        found = [
            (label, metric_series(ws, run_id, key), colour(i))
            for i, (run_id, label) in enumerate(runs)
        ]
        found = [f for f in found if len(f[1])]
        if found and max(len(s) for _, s, _ in found) > 1:
            pairs = [(label, s) for label, s, _ in found]
            chart = metric_chart(f"c-{len(charts)}", key, pairs, max_points, [c for *_, c in found])
            charts.append(chart)
        if len(charts) >= MAX_CHARTS:
            break
    return charts


def category_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[Any]],
    *,
    xlabel: str = "",
    stepped: bool = False,
) -> ChartSpec:
    """A chart over categories (e.g. monitoring windows): x is 0, 1, 2 ... with `labels` as ticks.

    Values that are None or not finite numbers become gaps. `stepped` draws
    steps and whole-number ticks (e.g. a model version).
    """
    return {
        "id": chart_id,
        "title": title,
        "xlabel": xlabel,
        "x": [float(i) for i in range(len(labels))],
        "series": [
            {"label": name, "y": [_finite(v) for v in ys], "colour": colour(i)}
            for i, (name, ys) in enumerate(series.items())
        ],
        "ticks": list(labels),
        "note": "",
        "stepped": stepped,
    }


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
