"""OutlierDetector: robust z-score and isolation forest fitted on the reference."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mlcycle.core import DataError
from mlcycle.monitoring import OutlierDetector


def _frame(rng: np.random.Generator, n: int, outliers: int = 0) -> pd.DataFrame:
    data = rng.normal(size=(n, 3))
    data[:outliers] += 12.0
    return pd.DataFrame(data, columns=["a", "b", "c"])


@pytest.mark.parametrize("method", ["robust_z", "isolation_forest"])
def test_outlier_share_rises_with_injected_outliers(method: str) -> None:
    rng = np.random.default_rng(0)
    detector = OutlierDetector(numeric=["a", "b", "c"], method=method, contamination=0.01)  # type: ignore[arg-type]
    detector.fit(_frame(rng, 5000))
    clean = detector.outlier_share(_frame(rng, 2000))
    dirty = detector.outlier_share(_frame(rng, 2000, outliers=200))
    assert clean < 0.03 and dirty == pytest.approx(clean + 0.1, abs=0.02)


def test_robust_z_known_values_missing_and_constant_columns() -> None:
    ref = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0], "k": [7.0] * 5})
    detector = OutlierDetector(numeric=["x", "k"]).fit(ref)
    # median 3, MAD 1: z = 0.6745 * |x - 3|; 3.5 is crossed beyond |x - 3| > 5.19
    cur = pd.DataFrame({"x": [8.1, 8.2, np.nan, 3.0], "k": [7.0, 7.0, 7.0, 7.5]})
    assert detector.predict(cur).tolist() == [False, True, False, True]
    assert math.isnan(detector.outlier_share(cur.iloc[:0]))


def test_bad_input() -> None:
    with pytest.raises(DataError, match="'lof'"):
        OutlierDetector(numeric=["x"], method="lof")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="with rows"):
        OutlierDetector(numeric=["x"]).fit(pd.DataFrame({"x": []}))
    detector = OutlierDetector(numeric=["x"]).fit(pd.DataFrame({"x": [1.0, 2.0]}))
    with pytest.raises(DataError, match="'x' is missing"):
        detector.predict(pd.DataFrame({"y": [1.0]}))
