"""A parallel-coordinates plot of params against one metric, drawn as SVG on the server.

One vertical axis per param (those that differ between the runs, at most
12) and a last axis for the metric; one polyline per run, in the run's
colour of the page (`colours`), or coloured by the metric when there are
more runs than colours (viridis: dark purple is low, yellow is high). An axis is numeric
when every value on it is a finite number, else categorical (values in
sorted order, evenly spaced). A run without a value sits on the `n/a` mark
under the axis. Each line has a `<title>`, so hovering shows the run in any
browser without JavaScript.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from mlcycle.tracking import RunRecord
from mlcycle.ui._format import number

MAX_AXES = 12
HEIGHT, TOP, BOTTOM, SIDE, GAP = 380, 50, 300, 70, 130
_NA_Y = BOTTOM + 28
_VIRIDIS = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))


@dataclass(frozen=True)
class Axis:
    """One axis: its label and each run's position on it (0 = bottom, 1 = top, None = n/a)."""

    label: str
    positions: list[float | None]
    ticks: list[tuple[float, str]]


def _as_float(value: str | float | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def _short(text: str, n: int = 16) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def make_axis(label: str, values: Sequence[str | float | None]) -> Axis:
    """Place `values` (one per run, None when missing) on a numeric or categorical axis."""
    present = [v for v in values if v is not None and not _is_nonfinite(v)]
    numbers = [_as_float(v) for v in present]
    if present and all(n is not None for n in numbers):
        lo, hi = min(n for n in numbers if n is not None), max(n for n in numbers if n is not None)
        span = hi - lo or 1.0
        pos = [None if (f := _as_float(v)) is None else (f - lo) / span for v in values]
        ticks = [(0.0, f"{lo:.4g}"), (1.0, f"{hi:.4g}")] if hi > lo else [(0.0, f"{lo:.4g}")]
        return Axis(label, pos, ticks)
    cats = sorted({str(v) for v in present})
    step = 1.0 / (len(cats) - 1) if len(cats) > 1 else 0.0
    where = {c: (i * step if len(cats) > 1 else 0.5) for i, c in enumerate(cats)}
    positions = [None if v is None or _is_nonfinite(v) else where[str(v)] for v in values]
    return Axis(label, positions, [(where[c], _short(c)) for c in cats[:12]])


def _is_nonfinite(value: str | float) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def axes_for(runs: Sequence[RunRecord], metric: str) -> list[Axis]:
    """The param axes (params that differ, else all; at most 12) then the `metric` axis."""
    keys = sorted({k for r in runs for k in r.params})
    varying = [k for k in keys if len({r.params.get(k) for r in runs}) > 1] or keys
    axes = [make_axis(k, [r.params.get(k) for r in runs]) for k in varying[:MAX_AXES]]
    axes.append(make_axis(metric, [r.metrics.get(metric) for r in runs]))
    return axes


def colour(t: float | None) -> str:
    """The viridis colour at `t` in [0, 1] (grey for None)."""
    if t is None:
        return "#999999"
    scaled = min(max(t, 0.0), 1.0) * (len(_VIRIDIS) - 1)
    i = min(int(scaled), len(_VIRIDIS) - 2)
    f = scaled - i
    rgb = [round(a + (b - a) * f) for a, b in zip(_VIRIDIS[i], _VIRIDIS[i + 1], strict=True)]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _y(position: float | None) -> float:
    return _NA_Y if position is None else BOTTOM - position * (BOTTOM - TOP)


def _axis_svg(x: float, axis: Axis) -> list[str]:
    out = [
        f'<line class="axis" x1="{x}" y1="{TOP}" x2="{x}" y2="{BOTTOM}"/>',
        f'<text class="axis-label" x="{x}" y="{TOP - 18}">{escape(_short(axis.label, 20))}'
        f"<title>{escape(axis.label)}</title></text>",
        f'<text class="na" x="{x}" y="{_NA_Y + 4}">n/a</text>',
    ]
    out += [
        f'<text class="tick" x="{x + 6}" y="{_y(p) + 4}">{escape(text)}</text>'
        for p, text in axis.ticks
    ]
    return out


def parallel_svg(
    runs: Sequence[RunRecord],
    labels: Sequence[str],
    metric: str,
    colours: Sequence[str] = (),
) -> str:
    """The SVG markup of the plot (`labels` name the runs in line tooltips).

    `colours` gives each run's line colour; without enough of them, lines
    are coloured by the metric.
    """
    axes = axes_for(runs, metric)
    by_run = len(colours) >= len(runs)
    width = 2 * SIDE + GAP * (len(axes) - 1)
    xs = [SIDE + GAP * i for i in range(len(axes))]
    parts = [
        f'<svg class="parallel" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {HEIGHT}"'
        f' width="{width}" height="{HEIGHT}" role="img"'
        f' aria-label="parallel coordinates of params against {escape(metric)}">'
    ]
    for j, label in enumerate(labels):
        points = " ".join(f"{x},{_y(a.positions[j]):.1f}" for x, a in zip(xs, axes, strict=True))
        shown = number(runs[j].metrics.get(metric)) or "n/a"
        stroke = colours[j] if by_run else colour(axes[-1].positions[j])
        parts.append(
            f'<polyline class="run-line" points="{points}" stroke="{stroke}">'
            f"<title>{escape(label)}: {escape(metric)} = {shown}</title></polyline>"
        )
    for x, axis in zip(xs, axes, strict=True):
        parts += _axis_svg(x, axis)
    parts.append("</svg>")
    return "".join(parts)
