"""StreamingMonitor: summaries equal exact counts; binned KS and Wasserstein within their bounds."""

from __future__ import annotations

from dataclasses import astuple

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlcycle.core import DataError, DriftConfig
from mlcycle.monitoring import FeatureDrift, StreamingMonitor, detect_drift, psi
from mlcycle.monitoring._stats import ks_test, wasserstein_norm
from mlcycle.monitoring._streaming import binned_ks, binned_wasserstein


def _frame(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    x = np.round(rng.normal(loc=shift, size=n), 2)
    x[rng.random(n) < 0.02] = np.nan
    return pd.DataFrame({"x": x, "c": rng.choice(["a", "b", "c"], size=n)})


def _same(got: tuple[FeatureDrift, ...], expected: tuple[FeatureDrift, ...]) -> bool:
    """Equal up to float rounding (category order changes the summation order)."""
    pairs = [zip(astuple(a), astuple(b), strict=True) for a, b in zip(got, expected, strict=True)]
    return all(
        x == pytest.approx(y, rel=1e-12, nan_ok=True) if isinstance(x, float) else x == y
        for fields in pairs
        for x, y in fields
    )


def _stream(monitor: StreamingMonitor, frame: pd.DataFrame, batch: int) -> None:
    for start in range(0, len(frame), batch):
        monitor.update(frame.iloc[start : start + batch])
    monitor.close_window()


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), batch=st.integers(50, 5000), shift=st.floats(-1, 1))
def test_streamed_counts_equal_exact_counts(seed: int, batch: int, shift: float) -> None:
    rng = np.random.default_rng(seed)
    ref, cur = _frame(rng, 4000), _frame(rng, 6000, shift)
    monitor = StreamingMonitor(numeric=["x"], categorical=["c"], bins=100, exact_max=0).fit(ref)
    _stream(monitor, cur, batch)
    window = monitor.closed_[0]
    finite = cur["x"].dropna().to_numpy()
    expected = np.bincount(np.searchsorted(monitor.edges_["x"], finite, "right"), minlength=100)
    assert np.array_equal(window.bins["x"], expected)
    assert (
        window.categories["c"].sort_index().tolist()
        == cur["c"].value_counts().sort_index().tolist()
    )
    result = monitor.window_result()
    (x, c) = result.features
    assert x.psi == pytest.approx(psi(ref["x"].dropna(), finite, bins=10), abs=1e-12)
    exact = detect_drift(ref, cur, numeric=[], categorical=["c"], config=DriftConfig())
    assert _same((c,), exact.features)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), shift=st.floats(-2, 2), scale=st.floats(0.3, 3))
def test_binned_ks_and_wasserstein_within_their_bounds(
    seed: int, shift: float, scale: float
) -> None:
    rng = np.random.default_rng(seed)
    ref, cur = rng.normal(size=3000), rng.normal(shift, scale, size=2000)
    edges = np.quantile(ref, np.arange(1, 50) / 50)
    r = np.bincount(np.searchsorted(edges, ref, "right"), minlength=50)
    c = np.bincount(np.searchsorted(edges, cur, "right"), minlength=50)
    d, _, bound = binned_ks(r, c)
    exact_d = ks_test(ref, cur)[0]
    assert d - 1e-12 <= exact_d <= d + bound + 1e-12
    lo, hi = min(ref.min(), cur.min()), max(ref.max(), cur.max())
    w, w_bound = binned_wasserstein(r, c, np.r_[lo, edges, hi])
    exact_w = wasserstein_norm(ref, cur) * np.std(ref)
    assert abs(w - exact_w) <= w_bound + 1e-9


def test_small_windows_get_the_exact_tests() -> None:
    rng = np.random.default_rng(1)
    ref, cur = _frame(rng, 3000), _frame(rng, 2500, shift=0.3)
    monitor = StreamingMonitor(numeric=["x"], categorical=["c"]).fit(ref)
    _stream(monitor, cur, 700)
    exact = detect_drift(ref, cur, numeric=["x"], categorical=["c"], config=DriftConfig())
    assert _same(monitor.window_result().features, exact.features)


def test_large_window_is_binned_and_close_to_exact() -> None:
    rng = np.random.default_rng(2)
    ref, cur = _frame(rng, 50_000), _frame(rng, 60_000, shift=0.2)
    monitor = StreamingMonitor(numeric=["x"], categorical=["c"], exact_max=10_000).fit(ref)
    _stream(monitor, cur, 8_000)
    binned = monitor.window_result().features[0]
    exact = detect_drift(ref, cur, numeric=["x"], categorical=[], config=DriftConfig()).features[0]
    assert binned.test == exact.test == "wasserstein"
    assert binned.statistic == pytest.approx(exact.statistic, abs=0.01)
    assert binned.psi == pytest.approx(exact.psi, abs=1e-12) and binned.drifted == exact.drifted


def test_sliding_window_and_previous_reference() -> None:
    rng = np.random.default_rng(3)
    ref = _frame(rng, 20_000)
    monitor = StreamingMonitor(numeric=["x"], categorical=["c"], exact_max=0, keep=4).fit(ref)
    steps = [_frame(rng, 5000, shift) for shift in (0.0, 0.0, 1.0, 1.0)]
    for step in steps:
        _stream(monitor, step, 5000)
    last_two = monitor.window_result(steps=2)
    whole = StreamingMonitor(numeric=["x"], categorical=["c"], exact_max=0).fit(ref)
    _stream(whole, pd.concat(steps[2:]), 10_000)
    assert _same(last_two.features, whole.window_result().features)
    vs_previous = monitor.window_result(steps=2, reference="previous")
    assert vs_previous.n_reference == 10_000 and vs_previous.drifted_features == ["x"]
    assert not monitor.window_result(steps=1, reference="previous").drifted


def test_bad_input_is_a_clear_error() -> None:
    rng = np.random.default_rng(4)
    monitor = StreamingMonitor(numeric=["x"], categorical=["c"]).fit(_frame(rng, 100))
    with pytest.raises(DataError, match="needs 1 closed windows, has 0"):
        monitor.window_result()
    with pytest.raises(DataError, match="'x' is missing"):
        monitor.update(pd.DataFrame({"c": ["a"]}))
    monitor.close_window()  # an empty window: explicit "not enough data", no crash
    assert [f.note for f in monitor.window_result().features] == ["not enough data"] * 2
    with pytest.raises(DataError, match="no finite value"):
        StreamingMonitor(numeric=["x"], categorical=[]).fit(pd.DataFrame({"x": [np.nan]}))
