"""Data drift between a reference window and a current window, feature by feature."""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlcycle.core import DataError, DriftConfig
from mlcycle.monitoring._jsonsafe import json_safe
from mlcycle.monitoring._stats import chi2_test, ks_test, psi

__all__ = [
    "DriftResult",
    "FeatureDrift",
    "chi2_test",
    "detect_drift",
    "ks_test",
    "prediction_drift",
    "psi",
]

NOT_ENOUGH_DATA = "not enough data"


@dataclass(frozen=True)
class FeatureDrift:
    """The drift test of one feature.

    Attributes:
        feature: column name.
        kind: ``"numeric"`` or ``"categorical"``.
        test: ``"ks"`` (Kolmogorov-Smirnov) or ``"chi2"`` (chi-squared homogeneity).
        statistic: the test statistic (KS D in [0, 1] or chi-squared >= 0); NaN if untested.
        p_value: the test's p-value in [0, 1]; NaN if untested.
        psi: Population Stability Index >= 0; NaN if untested.
        drifted: p_value < config.p_value and psi >= config.psi_threshold (when set).
        note: why the feature was not tested (``"not enough data"``), else empty.
    """

    feature: str
    kind: Literal["numeric", "categorical"]
    test: Literal["ks", "chi2"]
    statistic: float
    p_value: float
    psi: float
    drifted: bool
    note: str = ""

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


def _is_drifted(p_value: float, psi_value: float, config: DriftConfig) -> bool:
    if p_value >= config.p_value:
        return False
    return config.psi_threshold is None or psi_value >= config.psi_threshold


def _untested(name: str, categorical: bool) -> FeatureDrift:
    kind: Literal["numeric", "categorical"] = "categorical" if categorical else "numeric"
    nan = math.nan
    test: Literal["ks", "chi2"] = "chi2" if categorical else "ks"
    return FeatureDrift(name, kind, test, nan, nan, nan, False, NOT_ENOUGH_DATA)


def _numeric_values(values: Any, name: str) -> np.ndarray:
    series = pd.Series(values)
    if not pd.api.types.is_numeric_dtype(series.dtype):
        raise DataError(f"Column {name!r} is listed as numeric but has dtype {series.dtype}")
    arr: np.ndarray = series.to_numpy(dtype=np.float64, na_value=np.nan)
    finite: np.ndarray = arr[np.isfinite(arr)]
    return finite


def _test_feature(
    name: str, reference: Any, current: Any, categorical: bool, config: DriftConfig
) -> FeatureDrift:
    if categorical:
        ref: Any = pd.Series(reference).dropna()
        cur: Any = pd.Series(current).dropna()
    else:
        ref, cur = _numeric_values(reference, name), _numeric_values(current, name)
    if len(ref) == 0 or len(cur) == 0:
        return _untested(name, categorical)
    stat, p = chi2_test(ref, cur) if categorical else ks_test(ref, cur)
    value = psi(ref, cur, bins=config.psi_bins, categorical=categorical)
    if categorical:
        return FeatureDrift(
            name, "categorical", "chi2", stat, p, value, _is_drifted(p, value, config)
        )
    return FeatureDrift(name, "numeric", "ks", stat, p, value, _is_drifted(p, value, config))


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

    Numeric features: two-sample KS test (:func:`ks_test`); categorical:
    chi-squared homogeneity (:func:`chi2_test`); both also get PSI
    (:func:`psi`, ``config.psi_bins`` bins). Nulls (and +-inf for numeric
    columns) are dropped per feature. A feature with no values on one
    side is not drifted, has NaN statistics and note ``"not enough
    data"``, and does not count in the drift share's denominator.
    Features run on a small thread pool (NumPy sorts release the GIL).

    Args:
        reference: the reference window, shape (n_reference, n_columns).
        current: the current window, shape (n_current, n_columns).
        numeric: numeric feature columns.
        categorical: categorical feature columns.
        config: thresholds; ``config.features``, when set, restricts the features tested.

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
        return _test_feature(name, reference[name], current[name], is_cat, config)

    with ThreadPoolExecutor(max_workers=4) as pool:
        features = tuple(pool.map(run, selected))
    tested = [f for f in features if f.tested]
    share = sum(f.drifted for f in tested) / len(tested) if tested else 0.0
    return DriftResult(features, share, share >= config.share, len(reference), len(current))


def prediction_drift(
    reference_predictions: Any,
    current_predictions: Any,
    *,
    categorical: bool,
    config: DriftConfig,
) -> FeatureDrift:
    """Drift of the model's output (feature name ``"prediction"``).

    Args:
        reference_predictions: 1-D predictions on the reference window, shape (n,).
        current_predictions: 1-D predictions on the current window, shape (m,).
        categorical: True for class labels (chi-squared), False for numbers (KS).
        config: thresholds, as in :func:`detect_drift`.

    Returns:
        A :class:`FeatureDrift`.

    Raises:
        DataError: if numeric predictions are not numbers.
    """
    ref = np.asarray(reference_predictions).ravel()
    cur = np.asarray(current_predictions).ravel()
    return _test_feature("prediction", ref, cur, categorical, config)
