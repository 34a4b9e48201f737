"""Outlier share of a window, by a detector fitted on the reference window."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlcycle.core import DataError

_MAD_TO_Z = 0.6745  # Phi^-1(0.75): the MAD of a normal sample is 0.6745 sigma


class OutlierDetector:
    """Flags rows unlike the reference; reports the outlier share per window.

    Numeric features only (categories are ignored: a category never seen
    in the reference is a quality issue, see :func:`check_quality`).
    Missing values are filled with the reference median, so a missing value
    alone never makes a row an outlier.

    Methods:
        ``"isolation_forest"``: :class:`sklearn.ensemble.IsolationForest`
        (Liu, Ting and Zhou 2008) fitted on the reference with
        `contamination` and `seed`; a row is an outlier when it predicts -1.
        ``"robust_z"``: the modified z-score of Iglewicz and Hoaglin (1993),
        ``0.6745 (x - median) / MAD`` per column; a row is an outlier when
        any column's |z| exceeds `threshold` (3.5 by their rule). A column
        with MAD 0 flags every value different from its median.

    Args:
        numeric: numeric feature columns.
        method: ``"isolation_forest"`` or ``"robust_z"``.
        threshold: |z| limit for ``"robust_z"``.
        contamination: IsolationForest's expected outlier share, or ``"auto"``.
        seed: IsolationForest's random_state.
    """

    def __init__(
        self,
        *,
        numeric: Sequence[str],
        method: Literal["isolation_forest", "robust_z"] = "robust_z",
        threshold: float = 3.5,
        contamination: float | Literal["auto"] = "auto",
        seed: int = 0,
    ) -> None:
        if method not in ("isolation_forest", "robust_z"):
            raise DataError(
                f"Outlier method must be 'isolation_forest' or 'robust_z', got {method!r}"
            )
        self.numeric, self.method = list(numeric), method
        self.threshold, self.contamination, self.seed = threshold, contamination, seed

    def _raw(self, frame: pd.DataFrame) -> np.ndarray:
        """The numeric columns as float64, shape (n, len(numeric)), +-inf as NaN."""
        missing = [c for c in self.numeric if c not in frame.columns]
        if missing:
            raise DataError(f"Column {missing[0]!r} is missing from the frame")
        values = frame[self.numeric].to_numpy(dtype=np.float64, na_value=np.nan)
        out: np.ndarray = np.where(np.isfinite(values), values, np.nan)
        return out

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        raw = self._raw(frame)
        filled: np.ndarray = np.where(np.isnan(raw), self.median_, raw)
        return filled

    def fit(self, reference: pd.DataFrame) -> OutlierDetector:
        """Fit on the reference window, shape (n, len(numeric)); returns self.

        Raises:
            DataError: if a column is missing or the reference has no rows.
        """
        if len(reference) == 0:
            raise DataError("OutlierDetector.fit needs a reference window with rows")
        raw = self._raw(reference)
        with warnings.catch_warnings():  # an all-missing column has no median: use 0.0
            warnings.simplefilter("ignore", RuntimeWarning)
            self.median_ = np.nan_to_num(np.nanmedian(raw, axis=0))
        values = np.where(np.isnan(raw), self.median_, raw)
        self.mad_ = np.median(np.abs(values - self.median_), axis=0)
        if self.method == "isolation_forest":
            from sklearn.ensemble import IsolationForest

            self.forest_: Any = IsolationForest(
                contamination=self.contamination, random_state=self.seed
            ).fit(values)
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean outlier flags, shape (n_rows,)."""
        values = self._matrix(frame)
        if len(values) == 0:
            return np.zeros(0, dtype=bool)
        if self.method == "isolation_forest":
            flags: np.ndarray = self.forest_.predict(values) == -1
            return flags
        deviation = np.abs(values - self.median_)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(self.mad_ > 0, _MAD_TO_Z * deviation / self.mad_, np.inf * (deviation > 0))
        out: np.ndarray = np.nan_to_num(z, nan=0.0).max(axis=1) > self.threshold
        return out

    def outlier_share(self, frame: pd.DataFrame) -> float:
        """Share of outlier rows in [0, 1]; NaN for a window with no rows ("not enough data")."""
        flags = self.predict(frame)
        return float(flags.mean()) if flags.size else float("nan")
