"""Downsampling a metric series for charts: Largest-Triangle-Three-Buckets (LTTB).

Source: Sveinn Steinarsson, "Downsampling Time Series for Visual
Representation", MSc thesis, University of Iceland, 2013, section 4.2.
LTTB keeps the first and last points and, from each of `threshold - 2`
equal buckets in between, the point forming the largest triangle with the
point kept from the previous bucket and the mean of the next bucket. It
keeps peaks and the curve's shape, which uniform striding loses. NaN and
infinite values cannot be placed on a chart's axis: they are dropped first.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mlcycle.tracking._records import MetricSeries


def lttb_indices(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], threshold: int
) -> npt.NDArray[np.intp]:
    """Return the sorted indices of the `threshold` points LTTB keeps of `(x, y)`.

    `x` must be non-decreasing and as long as `y`; with `threshold` at
    least the length (or under 3) every index is returned.
    """
    n = len(x)
    if threshold >= n or threshold < 3:
        return np.arange(n)
    edges = np.linspace(1, n - 1, threshold - 1).astype(np.intp)  # bucket bounds over x[1:-1]
    keep = np.empty(threshold, dtype=np.intp)
    keep[0], keep[-1] = 0, n - 1
    a = 0
    for i in range(threshold - 2):
        lo, hi = edges[i], max(edges[i + 1], edges[i] + 1)
        nxt_lo, nxt_hi = hi, (edges[i + 2] if i + 2 < len(edges) else n)
        nxt_hi = max(nxt_hi, nxt_lo + 1)
        cx, cy = x[nxt_lo:nxt_hi].mean(), y[nxt_lo:nxt_hi].mean()
        bx, by = x[lo:hi], y[lo:hi]
        area = np.abs((x[a] - cx) * (by - y[a]) - (x[a] - bx) * (cy - y[a]))
        a = lo + int(np.argmax(area))
        keep[i + 1] = a
    return keep


def downsample(series: MetricSeries, max_points: int) -> MetricSeries:
    """Return at most `max_points` points of `series` chosen by LTTB (steps as x).

    Non-finite values are dropped first (they cannot be drawn).
    """
    finite = np.isfinite(series.values)
    steps, values, stamps = series.steps[finite], series.values[finite], series.timestamps[finite]
    keep = lttb_indices(steps.astype(np.float64), values, max_points)
    return MetricSeries(series.key, steps[keep], values[keep], stamps[keep])
