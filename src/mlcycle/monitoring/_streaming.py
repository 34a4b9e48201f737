"""Drift over an inference log in bounded memory: per-window summaries, not raw rows.

A :class:`StreamingMonitor` is fitted on the reference window once. Each
numeric column gets ``bins`` fixed bins on reference quantiles (outer bins
open to -inf and +inf); each record batch then adds to the open window's
summary: bin counts, category counts, missing counts, min and max. Closed
windows are kept as summaries only (the last ``keep``), and summaries add,
so a sliding window is the sum of its steps and no old row is read again.

Memory bound: 8 bytes x (numeric columns x (bins + 1) + categories seen)
per kept summary, plus the raw values of a window while it holds at most
``exact_max`` rows (8 bytes x columns x exact_max), plus one record batch.
With the defaults (1,000 bins, 100,000 raw rows, 25 columns) that is
about 20 MB plus the batch, whatever the log's length.

Tests: while both windows are small enough to keep raw (reference and
window <= ``exact_max`` rows), the exact tests of :func:`detect_drift`
run. Beyond, categorical tests stay exact (they only need counts), PSI on
``config.psi_bins`` reference-quantile bins is exact (those edges are a
subset of the fine edges), and KS and Wasserstein come from the binned
CDFs with the error bounds of :func:`binned_ks` and :func:`binned_wasserstein`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlcycle.core import DataError, DriftConfig
from mlcycle.monitoring._drift import (
    DriftResult,
    FeatureDrift,
    Sample,
    choose_test,
    is_drifted,
    sample_drift,
    summarize,
    threshold_of,
)
from mlcycle.monitoring._stats import (
    chi2_counts,
    jensenshannon_counts,
    psi_counts,
    sorted_quantiles,
    sorted_values,
    z_counts,
)


def binned_ks(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float, float]:
    """KS statistic from bin counts on shared edges: (D_binned, p-value, error bound).

    The ECDFs are known exactly just below each edge, so ``D_binned <= D
    <= D_binned + max_b max(p_ref_b, p_cur_b)`` (the largest bin share);
    the p-value is SciPy's asymptotic ``kstwo.sf(D_binned, round(nm/(n+m)))``
    and so errs on the side of fewer alarms.
    """
    from scipy import stats

    n, m = float(ref.sum()), float(cur.sum())
    gap = np.abs(np.cumsum(ref)[:-1] / n - np.cumsum(cur)[:-1] / m)
    d = float(gap.max()) if gap.size else 0.0
    bound = float(max(np.max(ref / n), np.max(cur / m)))
    p = float(np.clip(stats.kstwo.sf(d, np.round(n * m / (n + m))), 0.0, 1.0))
    return d, p, bound


def binned_wasserstein(ref: np.ndarray, cur: np.ndarray, points: np.ndarray) -> tuple[float, float]:
    """Wasserstein-1 distance from bin counts: (estimate, error bound), feature units.

    `points` are the bin boundaries, shape (bins + 1,): the smallest value
    of both windows, the inner edges, the largest value. Each CDF is
    interpolated linearly inside a bin; the true |F_ref - F_cur| differs
    from the interpolated one by at most ``p_ref_b + p_cur_b`` in bin b,
    so the error is at most ``sum_b width_b (p_ref_b + p_cur_b)``.
    """
    p_ref, p_cur = ref / ref.sum(), cur / cur.sum()
    d = np.r_[0.0, np.cumsum(p_ref) - np.cumsum(p_cur)]
    left, right, width = d[:-1], d[1:], np.diff(points)
    same_sign = left * right >= 0
    total = np.abs(left) + np.abs(right)
    safe = np.where(total > 0, total, 1.0)
    area = np.where(same_sign, total / 2, (left**2 + right**2) / (2 * safe))
    return float(np.dot(width, area)), float(np.dot(width, p_ref + p_cur))


@dataclass
class WindowSketch:
    """One window's additive state (counts only, plus raw values while small)."""

    rows: int = 0
    bins: dict[str, np.ndarray] = field(default_factory=dict)
    low: dict[str, float] = field(default_factory=dict)
    high: dict[str, float] = field(default_factory=dict)
    categories: dict[str, pd.Series] = field(default_factory=dict)
    raw: dict[str, list[np.ndarray]] | None = field(default_factory=dict)

    def values(self, name: str) -> np.ndarray:
        """The kept raw finite values of a numeric column, sorted (empty if none)."""
        parts = (self.raw or {}).get(name, [])
        return np.sort(np.concatenate(parts)) if parts else np.empty(0)

    def counts(self, name: str) -> pd.Series:
        """Category counts of a categorical column (empty if none)."""
        return self.categories.get(name, pd.Series(dtype=np.int64))

    def bin_counts(self, name: str, bins: int) -> np.ndarray:
        """Fine-bin counts of a numeric column, shape (bins,) (zeros if none)."""
        return self.bins.get(name, np.zeros(bins, dtype=np.int64))

    def merge(self, other: WindowSketch) -> WindowSketch:
        """Return the summary of both windows together."""
        out = WindowSketch(self.rows + other.rows)
        for name in self.bins.keys() | other.bins.keys():
            zero = np.zeros(1, dtype=np.int64)  # broadcasts when one side never saw the column
            out.bins[name] = self.bins.get(name, zero) + other.bins.get(name, zero)
            out.low[name] = min(self.low.get(name, math.inf), other.low.get(name, math.inf))
            out.high[name] = max(self.high.get(name, -math.inf), other.high.get(name, -math.inf))
        for name in self.categories.keys() | other.categories.keys():
            empty = pd.Series(dtype=np.int64)
            mine, theirs = self.categories.get(name, empty), other.categories.get(name, empty)
            out.categories[name] = mine.add(theirs, fill_value=0).astype(np.int64)
        if self.raw is not None and other.raw is not None:
            out.raw = {k: self.raw.get(k, []) + other.raw.get(k, []) for k in self.raw | other.raw}
        else:
            out.raw = None
        return out


class StreamingMonitor:
    """Drift of windows of an inference log against a fitted reference, in bounded memory.

    Args:
        numeric: numeric feature columns.
        categorical: categorical feature columns.
        config: tests and thresholds, as for :func:`detect_drift`.
        bins: fine bins per numeric column (reference quantiles), >= 10.
        exact_max: a window of at most this many rows keeps its raw values
            and gets the exact tests.
        keep: closed window summaries kept (a sliding window spans up to ``keep``).
    """

    def __init__(
        self,
        *,
        numeric: list[str],
        categorical: list[str],
        config: DriftConfig | None = None,
        bins: int = 1000,
        exact_max: int = 100_000,
        keep: int = 1,
    ) -> None:
        if bins < 10 or bins % 10:
            raise DataError(f"StreamingMonitor bins must be a multiple of 10 >= 10, got {bins}")
        self.numeric, self.categorical = list(numeric), list(categorical)
        self.config = config or DriftConfig()
        self.bins, self.exact_max = bins, exact_max
        self.closed_: deque[WindowSketch] = deque(maxlen=max(keep, 1))
        self.current_ = WindowSketch()

    def fit(self, reference: pd.DataFrame) -> StreamingMonitor:
        """Fix the bin edges on the reference window and summarize it; returns self.

        Raises:
            DataError: if a feature column is missing or a numeric one is not numeric.
        """
        self.edges_: dict[str, np.ndarray] = {}
        self.std_: dict[str, float] = {}
        for name in self.numeric:
            values = sorted_values(_numeric_column(reference, name))
            if values.size == 0:
                raise DataError(f"Column {name!r} has no finite value in the reference window")
            self.edges_[name] = sorted_quantiles(values, self.bins)
            self.std_[name] = float(np.std(values))
        self.reference_ = self._summarize(reference, WindowSketch())
        return self

    def update(self, batch: pd.DataFrame) -> None:
        """Add one record batch (a frame with the feature columns) to the open window."""
        self.current_ = self._summarize(batch, self.current_)

    def close_window(self) -> WindowSketch:
        """Close the open window, keep its summary, open a new one; returns the closed one."""
        closed, self.current_ = self.current_, WindowSketch()
        self.closed_.append(closed)
        return closed

    def window_result(self, *, steps: int = 1, reference: str = "fit") -> DriftResult:
        """Drift of the last `steps` closed windows together (a sliding window).

        Args:
            steps: closed windows to merge, 1 <= steps <= keep.
            reference: ``"fit"`` (the fitted reference) or ``"previous"``
                (the closed windows just before them).

        Raises:
            DataError: if fewer closed windows exist than requested.
        """
        need = steps * (2 if reference == "previous" else 1)
        if steps < 1 or need > len(self.closed_):
            raise DataError(f"window_result needs {need} closed windows, has {len(self.closed_)}")
        windows = list(self.closed_)
        window = _merge(windows[-steps:])
        ref = self.reference_ if reference == "fit" else _merge(windows[-2 * steps : -steps])
        features = tuple(
            self._feature(name, ref, window) for name in self.numeric + self.categorical
        )
        return summarize(features, self.config, ref.rows, window.rows)

    def _summarize(self, frame: pd.DataFrame, into: WindowSketch) -> WindowSketch:
        part = WindowSketch(len(frame))
        keep_raw = into.raw is not None and into.rows + len(frame) <= self.exact_max
        part.raw = {} if keep_raw else None
        for name in self.numeric:
            # sorting the batch and looking the edges up in it is ~7x faster than
            # looking each value up among the edges (cache misses, branch misses)
            finite = sorted_values(_numeric_column(frame, name))
            below = np.searchsorted(finite, self.edges_[name], side="left")
            part.bins[name] = np.diff(np.r_[0, below, finite.size])
            part.low[name] = float(finite[0]) if finite.size else math.inf
            part.high[name] = float(finite[-1]) if finite.size else -math.inf
            if part.raw is not None:
                part.raw[name] = [finite]
        for name in self.categorical:
            part.categories[name] = _column(frame, name).value_counts(dropna=True)
        return into.merge(part)

    def _feature(self, name: str, ref: WindowSketch, cur: WindowSketch) -> FeatureDrift:
        if name in self.categorical:
            counts = pd.concat([ref.counts(name), cur.counts(name)], axis=1).fillna(0)
            both = counts.to_numpy(dtype=np.int64).reshape(-1, 2)
            return sample_drift(name, Sample(True, both[:, 0], both[:, 1]), self.config)
        if ref.raw is not None and cur.raw is not None:
            exact = Sample(False, ref.values(name), cur.values(name))
            return sample_drift(name, exact, self.config)
        return self._binned_feature(name, ref, cur)

    def _binned_feature(self, name: str, ref: WindowSketch, cur: WindowSketch) -> FeatureDrift:
        r, c = ref.bin_counts(name, self.bins), cur.bin_counts(name, self.bins)
        if r.sum() == 0 or c.sum() == 0:
            return sample_drift(name, Sample(False, np.empty(0), np.empty(0)), self.config)
        test = choose_test(False, int(r.sum()), int(np.count_nonzero(r + c)), self.config)
        coarse = _coarse(r, c, self.edges_[name], self.config.psi_bins, self.bins)
        size = psi_counts(*coarse)
        stat, p = self._binned_statistic(test, name, ref, cur, coarse)
        drifted = is_drifted(test, stat, p, size, self.config)
        return FeatureDrift(
            name, "numeric", test, stat, p, size, drifted, "", threshold_of(test, self.config)
        )

    def _binned_statistic(
        self, test: str, name: str, ref: WindowSketch, cur: WindowSketch, coarse: Any
    ) -> tuple[float, float]:
        r, c = ref.bin_counts(name, self.bins), cur.bin_counts(name, self.bins)
        if test == "ks":
            d, p, _ = binned_ks(r, c)
            return d, p
        if test == "wasserstein":
            lo, hi = min(ref.low[name], cur.low[name]), max(ref.high[name], cur.high[name])
            points = np.r_[lo, np.clip(self.edges_[name], lo, hi), hi]
            w, _ = binned_wasserstein(r, c, points)
            return w / max(self.std_[name], 0.001), math.nan
        if test in ("chi2", "z"):  # few distinct values: each has its own fine bin
            seen = (r + c) > 0
            return (chi2_counts if test == "chi2" else z_counts)(r[seen], c[seen])
        distance = psi_counts if test == "psi" else jensenshannon_counts
        return distance(*coarse), math.nan


def _coarse(r: np.ndarray, c: np.ndarray, edges: np.ndarray, psi_bins: int, bins: int) -> Any:
    """Counts on the unique reference deciles (or `psi_bins`-iles), summed from fine bins."""
    if bins % psi_bins:
        raise DataError(
            f"StreamingMonitor bins ({bins}) must be a multiple of psi_bins ({psi_bins})"
        )
    picks = np.arange(1, psi_bins) * (bins // psi_bins) - 1  # fine edge i is quantile (i+1)/bins
    cut = edges[picks]
    first = (
        np.searchsorted(edges, np.unique(cut), side="left") + 1
    )  # fine bin starting at each edge
    starts = np.r_[0, first]
    return np.add.reduceat(r, starts), np.add.reduceat(c, starts)


def _merge(summaries: list[WindowSketch]) -> WindowSketch:
    out = summaries[0]
    for s in summaries[1:]:
        out = out.merge(s)
    return out


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        raise DataError(f"Column {name!r} is missing from the batch")
    return frame[name]


def _numeric_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    series = _column(frame, name)
    if not pd.api.types.is_numeric_dtype(series.dtype):
        raise DataError(f"Column {name!r} is listed as numeric but has dtype {series.dtype}")
    values: np.ndarray = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return values
