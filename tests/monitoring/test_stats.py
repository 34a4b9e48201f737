"""KS, chi-squared and PSI against SciPy and known cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mlcycle.core import DataError
from mlcycle.monitoring import chi2_test, jensenshannon, ks_test, psi, wasserstein_norm
from mlcycle.monitoring._stats import chi2_counts, sturges_counts, z_counts


def test_ks_matches_scipy_on_bike_temp_by_year(bike: pd.DataFrame) -> None:
    ref = bike.loc[bike["yr"] == 0, "temp"].to_numpy()
    cur = bike.loc[bike["yr"] == 1, "temp"].to_numpy()
    expected = stats.ks_2samp(ref, cur)
    stat, p = ks_test(ref, cur)
    assert stat == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, abs=1e-9)


@pytest.mark.parametrize("shift", [0.0, 0.004, 0.05])
def test_ks_large_samples_with_ties_match_scipy(shift: float) -> None:
    rng = np.random.default_rng(7)
    ref = np.round(rng.normal(size=60_000), 2)
    cur = np.round(rng.normal(loc=shift, size=45_000), 2)
    expected = stats.ks_2samp(ref, cur)
    stat, p = ks_test(ref, cur)
    assert stat == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, abs=1e-9)


def test_ks_large_continuous_samples_match_scipy() -> None:
    rng = np.random.default_rng(3)
    ref, cur = rng.exponential(size=30_000), rng.exponential(size=20_001) * 1.01
    expected = stats.ks_2samp(ref, cur)
    assert ks_test(ref, cur) == pytest.approx((expected.statistic, expected.pvalue), abs=1e-9)


def test_chi2_matches_scipy_on_bike_weathersit_jan_vs_jul(bike: pd.DataFrame) -> None:
    ref = bike.loc[bike["mnth"] == 1, "weathersit"]
    cur = bike.loc[bike["mnth"] == 7, "weathersit"]
    table = pd.crosstab(
        np.r_[np.zeros(len(ref)), np.ones(len(cur))], np.r_[ref.to_numpy(), cur.to_numpy()]
    )
    expected = stats.chi2_contingency(table.to_numpy(), correction=False)
    stat, p = chi2_test(ref, cur)
    assert stat == pytest.approx(expected.statistic, rel=1e-12)
    assert p == pytest.approx(expected.pvalue, abs=1e-9)
    assert p < 0.05  # heavy rain (4) appears in January only; the weather mix differs


def test_chi2_single_category_is_no_drift() -> None:
    assert chi2_test(pd.Series(["a"] * 5), pd.Series(["a"] * 9)) == (0.0, 1.0)


def test_chi2_category_only_on_one_side() -> None:
    stat, p = chi2_test(pd.Series(["a"] * 50 + ["b"] * 50), pd.Series(["a"] * 50 + ["c"] * 50))
    assert stat > 50 and p < 1e-10


def test_chi2_and_ks_reject_empty() -> None:
    with pytest.raises(DataError):
        chi2_test(pd.Series([], dtype=object), pd.Series(["a"]))
    with pytest.raises(DataError):
        ks_test(np.array([]), np.array([1.0]))


def test_psi_identical_data_is_zero_and_shifted_is_large() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=50_000)
    assert psi(ref, ref.copy()) == pytest.approx(0.0, abs=1e-12)
    assert psi(ref, rng.normal(size=50_000)) < 0.01
    assert psi(ref, rng.normal(loc=1.0, size=50_000)) > 0.5


def test_psi_hand_computed_categorical() -> None:
    ref = pd.Series(["a"] * 50 + ["b"] * 50)
    cur = pd.Series(["a"] * 80 + ["b"] * 20)
    expected = (0.8 - 0.5) * np.log(0.8 / 0.5) + (0.2 - 0.5) * np.log(0.2 / 0.5)
    assert psi(ref, cur, categorical=True) == pytest.approx(expected, rel=1e-12)


def test_psi_fills_empty_bins_at_1e_4() -> None:
    ref = pd.Series(["a"] * 100)
    cur = pd.Series(["a"] * 50 + ["b"] * 50)
    expected = (0.5 - 1.0) * np.log(0.5 / 1.0) + (0.5 - 1e-4) * np.log(0.5 / 1e-4)
    assert psi(ref, cur, categorical=True) == pytest.approx(expected, rel=1e-12)


def test_psi_numeric_outer_bins_are_open() -> None:
    ref = np.arange(1000, dtype=float)
    # everything beyond the reference range lands in the top bin, not dropped
    cur = np.full(1000, 1e9)
    top = 0.1  # reference share of the top decile
    expected = (1.0 - top) * np.log(1.0 / top) + 9 * (1e-4 - 0.1) * np.log(1e-4 / 0.1)
    assert psi(ref, cur) == pytest.approx(expected, rel=1e-9)


def test_psi_constant_reference_and_binary() -> None:
    assert psi(np.ones(100), np.ones(50)) == 0.0
    ref = np.r_[np.zeros(70), np.ones(30)]
    cur = np.r_[np.zeros(30), np.ones(70)]
    expected = 2 * (0.4 * np.log(0.7 / 0.3))
    assert psi(ref, cur) == pytest.approx(expected, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    ref=st.lists(st.integers(-5, 5), min_size=1, max_size=300),
    cur=st.lists(st.integers(-5, 5), min_size=1, max_size=300),
    scale=st.sampled_from([0.1, 1.0, 1e6]),
)
def test_wasserstein_matches_scipy_with_ties(ref: list[int], cur: list[int], scale: float) -> None:
    r, c = np.array(ref) * scale, np.array(cur) * scale
    expected = stats.wasserstein_distance(r, c) / max(float(np.std(r)), 0.001)
    assert wasserstein_norm(r, c) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_sturges_bins_match_numpy_histogram() -> None:
    rng = np.random.default_rng(8)
    ref, cur = np.sort(rng.gamma(2.0, size=5001)), np.sort(rng.gamma(2.2, size=3999))
    edges = np.histogram_bin_edges(np.r_[ref, cur], bins="sturges")
    got = sturges_counts(ref, cur)
    assert np.array_equal(got[0], np.histogram(ref, edges)[0])
    assert np.array_equal(got[1], np.histogram(cur, edges)[0])


def test_z_test_equals_two_by_two_chi2() -> None:
    ref, cur = np.array([420, 580]), np.array([470, 530])
    z, p = z_counts(ref, cur)
    chi2, p_chi2 = chi2_counts(ref, cur)
    assert z**2 == pytest.approx(chi2, rel=1e-12) and p == pytest.approx(p_chi2, rel=1e-9)
    assert z_counts(np.array([5]), np.array([7])) == (0.0, 1.0)
    with pytest.raises(DataError, match="at most two"):
        z_counts(np.array([1, 2, 3]), np.array([1, 2, 3]))


def test_jensenshannon_bounds() -> None:
    assert jensenshannon(pd.Series(["a"] * 10), pd.Series(["b"] * 10), categorical=True) == (
        pytest.approx(np.sqrt(np.log(2)))
    )
    same = np.arange(100.0)
    assert jensenshannon(same, same) == 0.0
