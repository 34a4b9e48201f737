"""Small inline SVG charts for the self-contained reports: no script, no external URL.

SVG keeps text and lines crisp at any zoom and in print, weighs 1-10 kB per
chart and needs no plotting library (a Matplotlib PNG of the same chart is
~30 kB and ~100 ms to draw). Every chart is a ``<figure>`` holding one
``<svg role="img">`` with a ``<title>``, so screen readers and text search
find it. Missing values (None or NaN) leave gaps in lines and heatmaps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

REF_COLOUR, CUR_COLOUR = "#4c72b0", "#dd8452"
OK_COLOUR, DRIFT_COLOUR = "#8da0cb", "#d62728"
PALETTE = ("#dd8452", "#4c72b0", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3")
_FONT = 'font-family="system-ui, sans-serif" font-size="11" fill="#333"'


@dataclass(frozen=True)
class _Frame:
    """The plot area inside an SVG of `width` x `height` pixels and the y range shown."""

    width: float
    height: float
    left: float
    bottom: float
    lo: float = 0.0
    hi: float = 1.0
    top: float = 40.0
    right: float = 14.0

    @property
    def inner_w(self) -> float:
        return self.width - self.left - self.right

    def y(self, value: float) -> float:
        span = (self.hi - self.lo) or 1.0
        return (
            self.height
            - self.bottom
            - (value - self.lo) / span * (self.height - self.top - self.bottom)
        )


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 x 10^k)."""
    if not hi > lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(lo / step) * step
    return [first + i * step for i in range(math.ceil((hi - first) / step - 1e-9) + 1)]


def _text(x: float, y: float, text: str, anchor: str = "middle", extra: str = "") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {_FONT}{extra}>{escape(text)}</text>'
    )


def _svg(frame: _Frame, title: str, body: Sequence[str]) -> str:
    w, h = frame.width, frame.height
    return (
        f'<figure class="chart"><svg viewBox="0 0 {w:.0f} {h:.0f}" '
        f'width="{w:.0f}" height="{h:.0f}" role="img"><title>{escape(title)}</title>'
        f'<rect width="100%" height="100%" fill="#fff"/>'
        + _text(w / 2, 18, title, extra=' font-weight="600" font-size="13"')
        + "".join(body)
        + "</svg></figure>"
    )


def _y_axis(frame: _Frame, label: str) -> list[str]:
    parts = []
    x0, x1 = frame.left, frame.width - frame.right
    for tick in nice_ticks(frame.lo, frame.hi):
        if frame.lo - 1e-12 <= tick <= frame.hi + 1e-12:
            y = frame.y(tick)
            parts.append(f'<line x1="{x0}" x2="{x1}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>')
            parts.append(_text(x0 - 4, y + 4, _fmt(tick), "end"))
    mid = (frame.top + frame.height - frame.bottom) / 2
    parts.append(_text(12, mid, label, extra=f' transform="rotate(-90 12 {mid:.1f})"'))
    return parts


def _x_labels(frame: _Frame, labels: Sequence[str], rotate: bool) -> list[str]:
    step = max(1, math.ceil(len(labels) / 24))  # at most ~24 labels stay legible
    slot = frame.inner_w / max(len(labels), 1)
    base = frame.height - frame.bottom + 14
    out = []
    for i in range(0, len(labels), step):
        x = frame.left + (i + 0.5) * slot
        turn = f' transform="rotate(-40 {x:.1f} {base:.1f})"' if rotate else ""
        out.append(_text(x, base, labels[i][:18], "end" if rotate else "middle", turn))
    return out


def _legend(frame: _Frame, names: Sequence[str], colours: Sequence[str]) -> list[str]:
    out, x = [], frame.width - frame.right
    for name, colour in reversed(list(zip(names, colours, strict=True))):
        x -= 12 + 6.5 * len(name)
        out.append(f'<rect x="{x:.1f}" y="{frame.top - 21}" width="9" height="9" fill="{colour}"/>')
        out.append(_text(x + 12, frame.top - 13, name, "start"))
        x -= 10
    return out


def score_chart(
    labels: Sequence[str], values: Sequence[float | None], flagged: Sequence[bool], *, title: str
) -> str:
    """Horizontal bars, one per feature (flagged ones red); missing scores draw no bar."""
    row = 18.0
    frame = _Frame(640, 44 + row * len(labels) + 30, left=140, bottom=30)
    finite = [v for v in map(_num, values) if v is not None]
    top = max(finite, default=1.0) or 1.0
    scale = (frame.inner_w - 48) / top  # room for the value printed after the bar
    body = []
    for i, (label, value, flag) in enumerate(zip(labels, values, flagged, strict=True)):
        y = frame.top + 4 + i * row
        body.append(_text(frame.left - 6, y + 12, label[:22], "end"))
        if (v := _num(value)) is not None:
            colour = DRIFT_COLOUR if flag else OK_COLOUR
            body.append(
                f'<rect x="{frame.left}" y="{y:.1f}" width="{max(v * scale, 1):.1f}" '
                f'height="{row - 4}" fill="{colour}"/>'
            )
            body.append(_text(frame.left + v * scale + 4, y + 12, _fmt(v), "start"))
    axis_y = frame.top + 4 + row * len(labels)
    ticks = [t for t in nice_ticks(0.0, top) if t <= top + 1e-12]
    body += [_text(frame.left + t * scale, axis_y + 14, _fmt(t)) for t in ticks]
    return _svg(frame, title, body)


def distribution_chart(
    labels: Sequence[str],
    reference: Sequence[float],
    current: Sequence[float],
    *,
    title: str,
    overlap: bool,
) -> str:
    """Reference vs current shares per bin or category.

    Args:
        labels: one per bin (numeric: its left edge) or category.
        reference: share of reference rows per label (sums to <= 1).
        current: share of current rows per label.
        title: chart title.
        overlap: draw the two bars on top of each other, translucent (histograms),
            instead of side by side (categories).
    """
    frame = _Frame(460, 270, left=48, bottom=62, hi=max([*reference, *current, 1e-9]) * 1.05)
    slot = frame.inner_w / max(len(labels), 1)
    body = _y_axis(frame, "share of rows")
    for i, pair in enumerate(zip(reference, current, strict=True)):
        for j, (share, colour) in enumerate(zip(pair, (REF_COLOUR, CUR_COLOUR), strict=True)):
            width = slot * (0.95 if overlap else 0.42)
            x = frame.left + i * slot + (slot * 0.025 if overlap else slot * (0.08 + 0.42 * j))
            y = frame.y(share)
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
                f'height="{frame.y(0) - y:.1f}" fill="{colour}" '
                f'fill-opacity="{0.55 if overlap else 0.9}"/>'
            )
    body += _x_labels(frame, labels, rotate=True)
    body += _legend(frame, ["reference", "current"], [REF_COLOUR, CUR_COLOUR])
    return _svg(frame, title, body)


def _polyline(
    frame: _Frame, xs: Sequence[float], values: Sequence[float | None], colour: str
) -> list[str]:
    out, run = [], []
    for x, raw in [*zip(xs, values, strict=True), (0.0, None)]:  # sentinel closes the last run
        if (v := _num(raw)) is not None:
            run.append(f"{x:.1f},{frame.y(v):.1f}")
            out.append(f'<circle cx="{x:.1f}" cy="{frame.y(v):.1f}" r="3" fill="{colour}"/>')
        elif run:
            out.append(
                f'<polyline points="{" ".join(run)}" fill="none" '
                f'stroke="{colour}" stroke-width="2"/>'
            )
            run = []
    return out


def _padded(lo: float, hi: float) -> tuple[float, float]:
    """Widen [lo, hi] to the round ticks around it, so every point sits between gridlines."""
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    ticks = nice_ticks(lo, hi)
    return ticks[0], ticks[-1]


def line_chart(
    x_labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    title: str,
    y_label: str,
    y_range: tuple[float, float] | None = None,
) -> str:
    """One line with markers per series over the windows in `x_labels`; None/NaN leave gaps."""
    finite = [v for vals in series.values() for v in map(_num, vals) if v is not None]
    lo, hi = y_range or _padded(min(finite, default=0.0), max(finite, default=1.0))
    frame = _Frame(640, 260, left=56, bottom=56, lo=lo, hi=hi)
    slot = frame.inner_w / max(len(x_labels), 1)
    xs = [frame.left + (i + 0.5) * slot for i in range(len(x_labels))]
    body = _y_axis(frame, y_label)
    colours = PALETTE[: len(series)]
    for values, colour in zip(series.values(), colours, strict=False):
        body += _polyline(frame, xs, values, colour)
    body += _x_labels(frame, x_labels, rotate=len(x_labels) > 8)
    body += _legend(frame, list(series), colours)
    return _svg(frame, title, body)


def heatmap(
    rows: Sequence[str],
    columns: Sequence[str],
    grid: Sequence[Sequence[float | None]],
    *,
    title: str,
) -> str:
    """Cells shaded white -> red by value (0 -> the grid's maximum); missing cells grey."""
    cell_h = 18.0
    frame = _Frame(640, 40 + cell_h * len(rows) + 66, left=140, bottom=66)
    top = max((v for r in grid for v in map(_num, r) if v is not None), default=1.0) or 1.0
    cell_w = frame.inner_w / max(len(columns), 1)
    body = []
    for i, (name, values) in enumerate(zip(rows, grid, strict=True)):
        y = frame.top + i * cell_h
        body.append(_text(frame.left - 6, y + 13, name[:22], "end"))
        for j, raw in enumerate(values):
            v = _num(raw)
            fill = "#eee" if v is None else _red(v / top)
            tip = "no data" if v is None else _fmt(v)
            body.append(
                f'<rect x="{frame.left + j * cell_w:.1f}" y="{y:.1f}" width="{cell_w - 1:.1f}" '
                f'height="{cell_h - 1}" fill="{fill}">'
                f"<title>{escape(name)}, {escape(columns[j])}: {tip}</title></rect>"
            )
    body += _x_labels(frame, columns, rotate=len(columns) > 8)
    body.append(_text(frame.width - frame.right, frame.top - 4, f"max {_fmt(top)}", "end"))
    return _svg(frame, title, body)


def _red(fraction: float) -> str:
    level = round(255 * (1.0 - min(max(fraction, 0.0), 1.0) * 0.85))
    return f"rgb(255,{level},{level})"
