"""LTTB downsampling of metric series for charts."""

from __future__ import annotations

import numpy as np

from mlcycle.tracking import MetricSeries
from mlcycle.tracking._downsample import downsample, lttb_indices


def _series(values: np.ndarray) -> MetricSeries:
    n = len(values)
    return MetricSeries("loss", np.arange(n), values.astype(np.float64), np.zeros(n))


def test_keeps_ends_and_peaks_and_the_budget() -> None:
    rng = np.random.default_rng(0)
    values = np.sin(np.arange(100_000) / 5000) + rng.normal(0, 0.01, 100_000)
    values[54_321], values[77_777] = 50.0, -50.0  # spikes uniform striding would miss
    small = downsample(_series(values), 1000)
    assert len(small) == 1000
    assert small.steps[0] == 0 and small.steps[-1] == 99_999
    assert 54_321 in small.steps and 77_777 in small.steps
    assert (np.diff(small.steps) > 0).all()
    np.testing.assert_array_equal(small.values, values[small.steps])


def test_short_series_and_tiny_budgets_are_returned_whole() -> None:
    x = np.arange(5, dtype=np.float64)
    assert lttb_indices(x, x, 10).tolist() == [0, 1, 2, 3, 4]
    assert lttb_indices(x, x, 2).tolist() == [0, 1, 2, 3, 4]
    assert len(downsample(_series(np.array([])), 10)) == 0


def test_non_finite_points_are_dropped() -> None:
    values = np.array([1.0, np.nan, 2.0, np.inf, 3.0])
    assert downsample(_series(values), 100).values.tolist() == [1.0, 2.0, 3.0]
