"""KS, chi-squared and PSI against SciPy and known cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlcycle.core import DataError
from mlcycle.monitoring import chi2_test, ks_test, psi


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


def test_chi2_false_alarm_rate_on_unchanged_data_stays_near_alpha() -> None:
    probs = np.linspace(1.0, 3.0, 20)
    probs /= probs.sum()
    alarms = 0
    for seed in range(50):
        rng = np.random.default_rng(seed)
        column = pd.Series(rng.choice([f"c{i}" for i in range(20)], size=200_000, p=probs))
        half = rng.permutation(200_000) < 100_000
        _, p = chi2_test(column[half], column[~half])
        alarms += p < 0.05
    assert alarms / 50 <= 0.15


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


def test_psi_floors_empty_bins_at_1e_4() -> None:
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
