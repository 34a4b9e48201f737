"""Two-sample drift statistics on sorted samples and on count vectors.

Numeric tests take 1-D float64 arrays; the ``*_sorted`` helpers expect them
sorted ascending with NaN and +-inf already dropped, so a caller sorts each
column once and reuses it. Categorical tests take aligned count vectors
(one entry per category of the union of both windows), so the exact path
(:mod:`._drift`) and the streaming path (:mod:`._streaming`) share them.
No Python loop runs over rows. SciPy is imported on first use.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlcycle.core import DataError

_KS_EXACT_MAX_N = 10_000  # scipy.stats.ks_2samp(method="auto") is exact up to this size
_WASSERSTEIN_MIN_NORM = 0.001  # Evidently's floor on the reference std


def _nonempty(ref: np.ndarray, cur: np.ndarray, test: str) -> None:
    if ref.size == 0 or cur.size == 0:
        raise DataError(f"{test} needs at least one value on each side")


def _nonempty_counts(ref: np.ndarray, cur: np.ndarray, test: str) -> None:
    if ref.sum() == 0 or cur.sum() == 0:
        raise DataError(f"{test} needs at least one value on each side")


def sorted_values(values: Any) -> np.ndarray:
    """Return the finite values of `values` as a sorted float64 array, shape (k,)."""
    ordered = np.sort(np.asarray(values, dtype=np.float64).ravel())
    # NaN sorts after +inf, so the finite values are one slice: no mask, no extra copy
    start = np.searchsorted(ordered, -np.inf, side="right")
    out: np.ndarray = ordered[start : np.searchsorted(ordered, np.inf, side="left")]
    return out


def ks_sorted(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """Two-sided two-sample Kolmogorov-Smirnov test on sorted samples.

    Same result as :func:`scipy.stats.ks_2samp` with ``method="auto"``:
    up to 10,000 values per side SciPy itself runs (exact distribution);
    above, the statistic D is the sup of |F_ref - F_cur| at the tie-run
    ends of both samples and the p-value is SciPy's asymptotic one,
    ``scipy.stats.kstwo.sf(D, round(n*m/(n+m)))`` (Smirnov 1948).
    """
    from scipy import stats

    _nonempty(ref, cur, "ks_test")
    if max(ref.size, cur.size) <= _KS_EXACT_MAX_N:
        res = stats.ks_2samp(ref, cur)
        return float(res.statistic), float(res.pvalue)
    d = float(max(np.max(np.abs(_cdf_gap_at_jumps(a, b))) for a, b in ((ref, cur), (cur, ref))))
    m, n = sorted([float(ref.size), float(cur.size)], reverse=True)
    return d, float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0.0, 1.0))


def _cdf_gap_at_jumps(own: np.ndarray, other: np.ndarray) -> np.ndarray:
    """F_own - F_other at the last element of every run of ties in sorted `own`."""
    last = np.r_[own[1:] != own[:-1], True]
    f_own = (np.flatnonzero(last) + 1) / own.size
    f_other = np.searchsorted(other, own[last], side="right") / other.size
    return f_own - f_other


def ks_test(reference: Any, current: Any) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test, two-sided (see :func:`ks_sorted`).

    Args:
        reference: 1-D numbers, shape (n,); NaN and +-inf are dropped.
        current: 1-D numbers, shape (m,).

    Returns:
        (statistic D in [0, 1], p-value in [0, 1]).

    Raises:
        DataError: if either sample has no finite value.
    """
    return ks_sorted(sorted_values(reference), sorted_values(current))


def wasserstein_sorted(ref: np.ndarray, cur: np.ndarray) -> float:
    """Wasserstein-1 distance ``integral |F_ref(x) - F_cur(x)| dx`` of sorted samples.

    The formula of :func:`scipy.stats.wasserstein_distance` (1-D case,
    Ramdas et al. 2017, eq. 2), computed by merging the two sorted
    samples in O(n + m) memory instead of sorting their concatenation.
    Within a run of tied values the gap is 0, so how ties interleave
    does not change the sum. Units: the feature's units.
    """
    n, m = ref.size, cur.size
    pos = np.searchsorted(ref, cur, side="right") + np.arange(m)
    from_cur = np.zeros(n + m, dtype=bool)
    from_cur[pos] = True
    merged = np.empty(n + m)
    merged[pos], merged[~from_cur] = cur, ref
    cur_count = np.cumsum(from_cur[:-1])
    gap = np.abs((np.arange(1, n + m) - cur_count) * m - cur_count * n)
    return float(np.dot(gap, np.diff(merged)) / (n * m))


def wasserstein_norm(reference: Any, current: Any) -> float:
    """Wasserstein-1 distance divided by the reference standard deviation.

    Evidently's ``wasserstein`` stattest ("Wasserstein distance (normed)"):
    ``W1(ref, cur) / max(std(ref), 0.001)`` with the population std
    (ddof=0); drift when >= 0.1 by default. Dimensionless.

    Args:
        reference: 1-D numbers, shape (n,); NaN and +-inf are dropped.
        current: 1-D numbers, shape (m,).

    Raises:
        DataError: if either sample has no finite value.
    """
    ref, cur = sorted_values(reference), sorted_values(current)
    _nonempty(ref, cur, "wasserstein_norm")
    return wasserstein_norm_sorted(ref, cur)


def wasserstein_norm_sorted(ref: np.ndarray, cur: np.ndarray) -> float:
    """:func:`wasserstein_norm` on sorted finite samples."""
    return wasserstein_sorted(ref, cur) / max(float(np.std(ref)), _WASSERSTEIN_MIN_NORM)


def sturges_counts(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts on Sturges' equal-width bins over the range of both sorted samples.

    Evidently's binning for numeric PSI and Jensen-Shannon with more than
    20 distinct reference values: ``np.histogram_bin_edges(concat,
    "sturges")``, i.e. ``ceil(log2(n + m) + 1)`` equal bins between the
    joint min and max, each [left, right) except the last, which is closed.
    """
    lo, hi = float(min(ref[0], cur[0])), float(max(ref[-1], cur[-1]))
    edges = _sturges_edges(lo, hi, ref.size + cur.size)
    return _sorted_bin_counts(ref, edges), _sorted_bin_counts(cur, edges)


def _sturges_edges(lo: float, hi: float, n: int) -> np.ndarray:
    # numpy's _hist_bin_sturges and _get_bin_edges, without re-reading the data
    if hi == lo:
        return np.array([lo - 0.5, hi + 0.5])
    width = (hi - lo) / (np.log2(n) + 1.0)
    return np.linspace(lo, hi, int(np.ceil((hi - lo) / width)) + 1)


def _sorted_bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(values, edges, side="left")
    idx[-1] = values.size  # the last bin is closed on the right, as in np.histogram
    return np.diff(idx)


def sorted_quantiles(values: np.ndarray, bins: int) -> np.ndarray:
    """Quantiles at 1/bins, ..., (bins-1)/bins of a sorted sample, shape (bins - 1,).

    Linear interpolation between order statistics (NumPy's default
    method), read off the sorted sample without another partition.
    """
    position = np.arange(1, bins) / bins * (values.size - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, values.size - 1)
    out: np.ndarray = values[below] + (values[above] - values[below]) * (position - below)
    return out


def quantile_counts(ref: np.ndarray, cur: np.ndarray, bins: int) -> tuple[Any, Any]:
    """Counts on reference-quantile bins, outer bins open to -inf and +inf.

    The inner edges are the unique reference quantiles at 1/bins, ...,
    (bins-1)/bins (:func:`sorted_quantiles`); a bin is [left, right), so
    every current value falls in a bin.
    """
    inner = np.unique(sorted_quantiles(ref, bins))
    ref_idx = np.r_[0, np.searchsorted(ref, inner, side="left"), ref.size]
    cur_idx = np.r_[0, np.searchsorted(cur, inner, side="left"), cur.size]
    return np.diff(ref_idx), np.diff(cur_idx)


def value_counts_sorted(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts of each distinct value of the union of two sorted samples, aligned."""
    keys = np.union1d(ref, cur)
    ref_c = np.searchsorted(ref, keys, side="right") - np.searchsorted(ref, keys, side="left")
    cur_c = np.searchsorted(cur, keys, side="right") - np.searchsorted(cur, keys, side="left")
    return ref_c, cur_c


def n_unique_sorted(values: np.ndarray) -> int:
    """Number of distinct values of a sorted array."""
    return int(values.size > 0) + int(np.count_nonzero(values[1:] != values[:-1]))


def distinct_sorted(values: np.ndarray) -> np.ndarray:
    """The distinct values of a sorted array, without sorting again."""
    out: np.ndarray = values[np.r_[True, values[1:] != values[:-1]]] if values.size else values
    return out


def category_counts(reference: pd.Series, current: pd.Series) -> pd.DataFrame:
    """Count each category on both sides.

    Args:
        reference: values of one categorical feature, any hashable dtype.
        current: the same feature in the current window.

    Returns:
        A frame indexed by the union of categories seen (count > 0) with
        int64 columns ``reference`` and ``current``.
    """
    counts = pd.concat(
        [reference.value_counts(dropna=True), current.value_counts(dropna=True)],
        axis=1,
        keys=["reference", "current"],
    )
    counts = counts.fillna(0).astype(np.int64)
    return counts[(counts["reference"] + counts["current"]) > 0]


def chi2_counts(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """Two-sample chi-squared test of homogeneity on aligned category counts.

    :func:`scipy.stats.chi2_contingency` on the 2 x k table with
    ``correction=False`` (Pearson's statistic, k - 1 degrees of freedom).
    Both windows are samples. Evidently's ``chisquare`` stattest instead
    runs a goodness-of-fit test (``scipy.stats.chisquare``) with the
    reference frequencies as exact expected values; that ignores the
    reference's own sampling error, roughly doubles the statistic on
    equal-sized windows and so raises false alarms on unchanged data at
    any size (``tests/monitoring/test_evidently_agreement.py``).

    Returns:
        (statistic >= 0, p-value); (0.0, 1.0) for a single category.
    """
    from scipy import stats

    _nonempty_counts(ref, cur, "chi2_test")
    seen = (ref + cur) > 0
    if np.count_nonzero(seen) < 2:
        return 0.0, 1.0
    res = stats.chi2_contingency(np.vstack([ref[seen], cur[seen]]), correction=False)
    return float(res.statistic), float(res.pvalue)


def z_counts(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """Two-proportion z-test (pooled variance) for a binary feature.

    ``z = (p1 - p2) / sqrt(P (1 - P) (1/n1 + 1/n2))`` with p the share of
    the first category and P the pooled share; two-sided p-value
    ``2 * norm.sf(|z|)``. Evidently's ``z`` stattest (its sign depends on
    which category is first; the p-value does not). Equivalent to the
    2 x 2 chi-squared test (z**2 = chi2).

    Returns:
        (z, p-value); (0.0, 1.0) when only one category occurs.

    Raises:
        DataError: with more than two categories or an empty side.
    """
    from scipy import stats

    if ref.size > 2:
        raise DataError(f"the z-test needs at most two categories, got {ref.size}")
    _nonempty_counts(ref, cur, "z_test")
    if ref.size < 2:
        return 0.0, 1.0
    n1, n2 = float(ref.sum()), float(cur.sum())
    pooled = (ref[0] + cur[0]) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return 0.0, 1.0
    z = (ref[0] / n1 - cur[0] / n2) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float(z), float(2.0 * stats.norm.sf(abs(z)))


def _fill_zeros(share: np.ndarray) -> np.ndarray:
    """Evidently's ``get_binned_data(feel_zeroes=True)``: empty bins get a small share.

    min(nonzero share) / 1e6 when that minimum is <= 1e-4, else 1e-4; the
    nonzero shares are left as they are.
    """
    smallest = float(share[share > 0].min())
    fill = smallest / 1e6 if smallest <= 1e-4 else 1e-4
    return np.where(share == 0, fill, share)


def psi_counts(ref: np.ndarray, cur: np.ndarray) -> float:
    """Population Stability Index ``sum((cur% - ref%) * ln(cur% / ref%))`` on counts.

    Siddiqi (2006), *Credit Risk Scorecards*, ch. 8; empty bins are filled
    as Evidently's ``psi`` stattest does (:func:`_fill_zeros`). Rule of
    thumb: < 0.1 stable, 0.1-0.2 moderate, > 0.2 significant shift.
    """
    _nonempty_counts(ref, cur, "psi")
    r, c = _fill_zeros(ref / ref.sum()), _fill_zeros(cur / cur.sum())
    return float(np.sum((c - r) * np.log(c / r)))


def jensenshannon_counts(ref: np.ndarray, cur: np.ndarray) -> float:
    """Jensen-Shannon distance (natural log, in [0, sqrt(ln 2)]) of two count vectors.

    :func:`scipy.spatial.distance.jensenshannon` on the shares, no zero
    filling: Evidently's ``jensenshannon`` stattest (drift when >= 0.1).
    """
    from scipy.spatial import distance

    _nonempty_counts(ref, cur, "jensenshannon")
    return float(distance.jensenshannon(ref / ref.sum(), cur / cur.sum()))


def numeric_counts(
    ref: np.ndarray, cur: np.ndarray, bins: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Bin two sorted samples for PSI / Jensen-Shannon.

    `bins` given: :func:`quantile_counts`. Otherwise Evidently's
    ``get_binned_data``: Sturges bins when the reference has more than 20
    distinct values, else one bin per distinct value.
    """
    if bins is not None:
        return quantile_counts(ref, cur, bins)
    if n_unique_sorted(ref) > 20:
        return sturges_counts(ref, cur)
    return value_counts_sorted(ref, cur)


def chi2_test(reference: pd.Series, current: pd.Series) -> tuple[float, float]:
    """Two-sample chi-squared homogeneity test of a categorical feature (:func:`chi2_counts`).

    Args:
        reference: category values, nulls dropped.
        current: category values, nulls dropped.

    Returns:
        (chi-squared statistic >= 0, p-value in [0, 1]).

    Raises:
        DataError: if either sample is empty.
    """
    counts = category_counts(pd.Series(reference), pd.Series(current))
    return chi2_counts(counts["reference"].to_numpy(), counts["current"].to_numpy())


def psi(
    reference: np.ndarray | pd.Series,
    current: np.ndarray | pd.Series,
    *,
    bins: int | None = 10,
    categorical: bool = False,
) -> float:
    """Population Stability Index of one feature (:func:`psi_counts`).

    Args:
        reference: 1-D values, nulls dropped; numbers unless `categorical`.
        current: 1-D values, nulls dropped.
        bins: numeric data: number of reference-quantile bins (>= 2), or
            None for Evidently's binning (:func:`numeric_counts`).
        categorical: one bin per category of the union.

    Returns:
        PSI >= 0 (dimensionless).

    Raises:
        DataError: if either sample is empty or `bins` < 2.
    """
    if bins is not None and bins < 2:
        raise DataError(f"psi bins must be >= 2, got {bins}")
    return psi_counts(*_counts(reference, current, categorical, bins))


def jensenshannon(reference: Any, current: Any, *, categorical: bool = False) -> float:
    """Jensen-Shannon distance of one feature, binned as Evidently does (:func:`numeric_counts`).

    Raises:
        DataError: if either sample is empty.
    """
    return jensenshannon_counts(*_counts(reference, current, categorical, None))


def _counts(reference: Any, current: Any, categorical: bool, bins: int | None) -> tuple[Any, Any]:
    if len(reference) == 0 or len(current) == 0:
        raise DataError("the test needs at least one value on each side")
    if categorical:
        counts = category_counts(pd.Series(reference), pd.Series(current))
        return counts["reference"].to_numpy(), counts["current"].to_numpy()
    return numeric_counts(sorted_values(reference), sorted_values(current), bins)
