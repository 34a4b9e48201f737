"""Data drift between a reference window and a current window, feature by feature."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlcycle.core import DataError, DriftConfig
from mlcycle.monitoring._jsonsafe import json_safe
from mlcycle.monitoring._stats import (
    category_counts,
    chi2_counts,
    distinct_sorted,
    jensenshannon_counts,
    ks_sorted,
    n_unique_sorted,
    numeric_counts,
    psi_counts,
    quantile_counts,
    sorted_values,
    wasserstein_norm_sorted,
    z_counts,
)

NOT_ENOUGH_DATA = "not enough data"
TestName = Literal["ks", "wasserstein", "psi", "jensenshannon", "chi2", "z"]
P_VALUE_TESTS = frozenset({"ks", "chi2", "z"})
_SMALL_REFERENCE = 1000  # Evidently: up to this many reference values, run a p-value test
_FEW_VALUES = 5  # Evidently: numbers with at most this many distinct values are categories


@dataclass(frozen=True)
class FeatureDrift:
    """The drift test of one feature.

    Attributes:
        feature: column name.
        kind: ``"numeric"`` or ``"categorical"``.
        test: ``"ks"``, ``"chi2"``, ``"z"`` (p-value tests) or
            ``"wasserstein"`` (normalized), ``"jensenshannon"``, ``"psi"`` (distances).
        statistic: the test statistic (KS D, chi-squared, z) or the distance; NaN if untested.
        p_value: the p-value in [0, 1] of a p-value test; NaN for distances or if untested.
        psi: PSI >= 0 on ``config.psi_bins`` reference-quantile bins; NaN if untested.
        drifted: p_value < threshold (and psi >= config.psi_threshold when set),
            or for a distance, statistic >= threshold.
        note: why the feature was not tested (``"not enough data"``), else empty.
        threshold: the test's threshold (a p-value level or a distance).
    """

    feature: str
    kind: Literal["numeric", "categorical"]
    test: TestName
    statistic: float
    p_value: float
    psi: float
    drifted: bool
    note: str = ""
    threshold: float = math.nan

    @property
    def tested(self) -> bool:
        """False when either window had no non-null values."""
        return self.note != NOT_ENOUGH_DATA

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (NaN becomes None)."""
        out: dict[str, Any] = json_safe(asdict(self))
        return out


@dataclass(frozen=True)
class DriftResult:
    """Drift of a whole dataset: the per-feature tests and the drift share.

    Attributes:
        features: one :class:`FeatureDrift` per tested feature, in input order.
        share: drifted features / features with data on both sides (0.0 if none).
        drifted: share >= config.share.
        n_reference: rows in the reference window.
        n_current: rows in the current window.
    """

    features: tuple[FeatureDrift, ...]
    share: float
    drifted: bool
    n_reference: int
    n_current: int

    @property
    def drifted_features(self) -> list[str]:
        """Names of the drifted features, in input order."""
        return [f.feature for f in self.features if f.drifted]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (NaN becomes None) with ``drifted_features`` added."""
        return {
            "share": self.share,
            "drifted": self.drifted,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "drifted_features": self.drifted_features,
            "features": [f.to_dict() for f in self.features],
        }


def choose_test(
    categorical: bool, n_reference: int, n_unique: int, config: DriftConfig
) -> TestName:
    """Pick a feature's test: the configured one, or Evidently 0.7's default.

    Evidently's ``_get_default_stattest``: a reference of at most 1,000
    values gets a p-value test (KS for numbers; chi-squared for more than
    two categories, else the z-test), a larger one a distance (normalized
    Wasserstein for numbers, Jensen-Shannon for categories); numbers with
    at most 5 distinct values in both windows together count as categories.
    """
    chosen = config.categorical_test if categorical else config.numeric_test
    if chosen != "auto":
        return chosen
    as_categories = categorical or n_unique <= _FEW_VALUES
    if n_reference > _SMALL_REFERENCE:
        return "jensenshannon" if as_categories else "wasserstein"
    if not as_categories:
        return "ks"
    return "chi2" if n_unique > 2 else "z"


def threshold_of(test: TestName, config: DriftConfig) -> float:
    """The drift threshold of `test` under `config` (a p-value level or a distance)."""
    value: float | None = getattr(config.thresholds, test)
    return config.p_value if value is None else value


@dataclass(frozen=True)
class Sample:
    """One feature in both windows: sorted finite numbers, or aligned category counts."""

    categorical: bool
    ref: np.ndarray
    cur: np.ndarray

    def n_reference(self) -> int:
        """Reference values (non-null)."""
        return int(self.ref.sum()) if self.categorical else int(self.ref.size)

    def n_current(self) -> int:
        """Current values (non-null)."""
        return int(self.cur.sum()) if self.categorical else int(self.cur.size)

    def n_unique(self) -> int:
        """Distinct values in both windows together (exact up to 6 for numbers)."""
        if self.categorical:
            return int(np.count_nonzero(self.ref + self.cur))
        own = n_unique_sorted(self.ref)
        if own > _FEW_VALUES:  # the exact count does not matter beyond "more than 5"
            return own
        return int(np.union1d(distinct_sorted(self.ref), distinct_sorted(self.cur)).size)

    def counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Aligned counts: the categories, or Evidently's bins for numbers."""
        return (self.ref, self.cur) if self.categorical else numeric_counts(self.ref, self.cur)


def _sample(name: str, reference: Any, current: Any, categorical: bool) -> Sample:
    if categorical:
        counts = category_counts(pd.Series(reference), pd.Series(current))
        return Sample(True, counts["reference"].to_numpy(), counts["current"].to_numpy())
    return Sample(False, _numeric_values(reference, name), _numeric_values(current, name))


def _numeric_values(values: Any, name: str) -> np.ndarray:
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if not pd.api.types.is_numeric_dtype(series.dtype):
        raise DataError(f"Column {name!r} is listed as numeric but has dtype {series.dtype}")
    return sorted_values(series.to_numpy(dtype=np.float64, na_value=np.nan))


def _statistic(test: TestName, sample: Sample) -> tuple[float, float]:
    """(statistic, p-value) of `test`; the p-value is NaN for distances."""
    if test == "ks":
        return ks_sorted(sample.ref, sample.cur)
    if test == "wasserstein":
        return wasserstein_norm_sorted(sample.ref, sample.cur), math.nan
    ref, cur = sample.counts()
    if test in ("chi2", "z"):
        return chi2_counts(ref, cur) if test == "chi2" else z_counts(ref, cur)
    distance = psi_counts if test == "psi" else jensenshannon_counts
    return distance(ref, cur), math.nan


def _size_psi(sample: Sample, bins: int) -> float:
    if sample.categorical:
        return psi_counts(sample.ref, sample.cur)
    return psi_counts(*quantile_counts(sample.ref, sample.cur, bins))


def is_drifted(test: TestName, stat: float, p: float, psi: float, config: DriftConfig) -> bool:
    """p < threshold (and psi >= ``config.psi_threshold`` when set), or stat >= threshold."""
    threshold = threshold_of(test, config)
    if test not in P_VALUE_TESTS:
        return stat >= threshold
    return p < threshold and (config.psi_threshold is None or psi >= config.psi_threshold)


def sample_drift(name: str, sample: Sample, config: DriftConfig) -> FeatureDrift:
    """Run the chosen test on one prepared feature (shared by the streaming monitor)."""
    kind: Literal["numeric", "categorical"] = "categorical" if sample.categorical else "numeric"
    if sample.n_reference() == 0 or sample.n_current() == 0:
        test = choose_test(sample.categorical, 0, 0, config)
        nan = math.nan
        return FeatureDrift(name, kind, test, nan, nan, nan, False, NOT_ENOUGH_DATA, nan)
    test = choose_test(sample.categorical, sample.n_reference(), sample.n_unique(), config)
    if test == "z" and sample.n_unique() > 2:
        raise DataError(f"Column {name!r} has {sample.n_unique()} values; the z-test needs two")
    stat, p = _statistic(test, sample)
    size = _size_psi(sample, config.psi_bins)
    drifted = is_drifted(test, stat, p, size, config)
    return FeatureDrift(name, kind, test, stat, p, size, drifted, "", threshold_of(test, config))


def _selected(
    numeric: Sequence[str], categorical: Sequence[str], config: DriftConfig
) -> list[tuple[str, bool]]:
    listed = [(c, False) for c in numeric] + [(c, True) for c in categorical]
    if config.features is None:
        return listed
    known = {c for c, _ in listed}
    unknown = [f for f in config.features if f not in known]
    if unknown:
        raise DataError(
            f"Drift feature {unknown[0]!r} is neither a numeric nor a categorical column"
        )
    return [(c, is_cat) for c, is_cat in listed if c in config.features]


def _check_columns(columns: list[str], reference: pd.DataFrame, current: pd.DataFrame) -> None:
    for frame, window in ((reference, "reference"), (current, "current")):
        for col in columns:
            if col not in frame.columns:
                raise DataError(f"Column {col!r} is missing from the {window} window")


def detect_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    config: DriftConfig,
) -> DriftResult:
    """Test every feature for drift and apply the dataset drift rule.

    Each feature gets the test :func:`choose_test` picks (Evidently 0.7's
    defaults unless ``config`` names one) and PSI on ``config.psi_bins``
    reference-quantile bins. Nulls (and +-inf for numeric columns) are
    dropped per feature. A feature with no values on one side is not
    drifted, has NaN statistics and note ``"not enough data"``, and does
    not count in the drift share's denominator. Each numeric column is
    sorted once; columns run on a thread pool (NumPy sorts release the GIL).

    Args:
        reference: the reference window, shape (n_reference, n_columns).
        current: the current window, shape (n_current, n_columns).
        numeric: numeric feature columns.
        categorical: categorical feature columns.
        config: tests and thresholds; ``config.features``, when set,
            restricts the features tested.

    Returns:
        A :class:`DriftResult`.

    Raises:
        DataError: if a feature column is missing from either frame, a
            numeric column is not numeric, or ``config.features`` names an
            unlisted column.
    """
    selected = _selected(numeric, categorical, config)
    _check_columns([c for c, _ in selected], reference, current)

    def run(item: tuple[str, bool]) -> FeatureDrift:
        name, is_cat = item
        return column_drift(name, reference[name], current[name], categorical=is_cat, config=config)

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        features = tuple(pool.map(run, selected))
    return summarize(features, config, len(reference), len(current))


def summarize(
    features: tuple[FeatureDrift, ...], config: DriftConfig, n_reference: int, n_current: int
) -> DriftResult:
    """Apply the dataset drift rule (share of drifted tested features >= ``config.share``)."""
    tested = [f for f in features if f.tested]
    share = sum(f.drifted for f in tested) / len(tested) if tested else 0.0
    return DriftResult(features, share, share >= config.share, n_reference, n_current)


def column_drift(
    name: str, reference: Any, current: Any, *, categorical: bool, config: DriftConfig
) -> FeatureDrift:
    """Drift of one column, with the same test choice as :func:`detect_drift`.

    Args:
        name: the name reported in the result.
        reference: 1-D values in the reference window, shape (n,).
        current: 1-D values in the current window, shape (m,).
        categorical: True for categories, False for numbers.
        config: tests and thresholds.

    Raises:
        DataError: if numeric values are not numbers.
    """
    return sample_drift(name, _sample(name, reference, current, categorical), config)


def prediction_drift(
    reference_predictions: Any,
    current_predictions: Any,
    *,
    categorical: bool,
    config: DriftConfig,
) -> FeatureDrift:
    """Drift of the model's output (feature name ``"prediction"``), see :func:`column_drift`."""
    ref = np.asarray(reference_predictions).ravel()
    cur = np.asarray(current_predictions).ravel()
    return column_drift("prediction", ref, cur, categorical=categorical, config=config)


def target_drift(
    reference_target: Any, current_target: Any, *, categorical: bool, config: DriftConfig
) -> FeatureDrift:
    """Drift of the labels (feature name ``"target"``), see :func:`column_drift`."""
    ref = np.asarray(reference_target).ravel()
    cur = np.asarray(current_target).ravel()
    return column_drift("target", ref, cur, categorical=categorical, config=config)
