"""mlcycle's drift tests against Evidently 0.7 on the bike sharing data.

Where both compute the same thing the values agree within 1e-6. Where
Evidently is wrong (its chi-squared treats the reference frequencies as
exact), the test shows the difference and the false-alarm rates.
"""

from __future__ import annotations

import math
import warnings
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlcycle.core import DriftConfig
from mlcycle.monitoring import detect_drift, jensenshannon, ks_test, psi, wasserstein_norm
from mlcycle.monitoring._stats import chi2_counts

NUMERIC = ["temp", "atemp", "hum", "windspeed", "casual", "registered", "cnt"]
CATEGORICAL = ["season", "mnth", "hr", "holiday", "weekday", "workingday", "weathersit"]
EVIDENTLY_NAMES = {
    "wasserstein": "Wasserstein distance (normed)",
    "jensenshannon": "Jensen-Shannon distance",
    "ks": "K-S p_value",
    "chi2": "chi-square p_value",
    "z": "Z-test p_value",
}


@pytest.fixture(scope="module")
def evidently() -> ModuleType:
    """Evidently, importable under pandas 3.

    Evidently 0.7.23 (the latest) imports ``infer_dtype_from_object`` from
    pandas internals, which pandas 3 removed; none of the code paths used
    here calls it, so a stand-in lets the import succeed. Its import also
    emits third-party deprecation warnings, silenced for the import only.
    """
    import pandas.core.dtypes.common as common

    if not hasattr(common, "infer_dtype_from_object"):
        common.infer_dtype_from_object = lambda t: pd.api.types.pandas_dtype(t).type  # type: ignore[attr-defined]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import evidently
        import evidently.legacy.calculations.stattests as _  # noqa: F401
    return evidently


def _evidently_drift(ev: ModuleType, ref: pd.DataFrame, cur: pd.DataFrame) -> dict[str, Any]:
    from evidently.presets import DataDriftPreset

    definition = ev.DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas/plotly deprecations inside Evidently
        snapshot = ev.Report([DataDriftPreset()]).run(
            ev.Dataset.from_pandas(cur, data_definition=definition),
            ev.Dataset.from_pandas(ref, data_definition=definition),
        )
    return snapshot.dict()  # type: ignore[no-any-return]


def _by_column(report: dict[str, Any]) -> dict[str, tuple[str, float]]:
    out = {}
    for metric in report["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            out[config["column"]] = (config["method"], float(metric["value"]))
    return out


def _share(report: dict[str, Any]) -> float:
    (count,) = [m for m in report["metrics"] if m["config"]["type"].endswith("DriftedColumnsCount")]
    return float(count["value"]["share"])


@pytest.mark.parametrize(
    ("reference_rows", "current_rows"),
    [("yr == 0", "yr == 1"), ("yr == 0 and mnth == 1", "yr == 1 and mnth == 1")],
    ids=["2011-vs-2012", "jan-2011-vs-jan-2012"],
)
def test_default_report_agrees(
    evidently: ModuleType, bike: pd.DataFrame, reference_rows: str, current_rows: str
) -> None:
    ref, cur = bike.query(reference_rows), bike.query(current_rows)
    theirs = _evidently_drift(evidently, ref, cur)
    config = DriftConfig(psi_threshold=None)  # Evidently has no PSI gate
    ours = detect_drift(ref, cur, numeric=NUMERIC, categorical=CATEGORICAL, config=config)
    by_column = _by_column(theirs)
    for feature in ours.features:
        method, value = by_column[feature.feature]
        assert method == EVIDENTLY_NAMES[feature.test], feature.feature
        if feature.test == "chi2":  # different test on purpose: see the tests below
            continue
        score = feature.p_value if feature.test in ("ks", "z") else feature.statistic
        assert score == pytest.approx(value, abs=1e-6), feature.feature
    if not any(f.test == "chi2" for f in ours.features):
        assert ours.share == pytest.approx(_share(theirs), abs=1e-12)


def _stattest(name: str, ref: pd.Series, cur: pd.Series, categorical: bool) -> float:
    """Run one of Evidently's stattests with its default threshold; return its score."""
    from evidently.legacy.calculations import stattests
    from evidently.legacy.core import ColumnType

    kind = ColumnType.Categorical if categorical else ColumnType.Numerical
    return float(getattr(stattests, name)(ref, cur, kind, None).drift_score)


@pytest.mark.parametrize("column", ["temp", "hum", "cnt", "windspeed"])
def test_single_tests_agree_on_numbers(
    evidently: ModuleType, bike: pd.DataFrame, column: str
) -> None:
    ref = bike.loc[bike.yr == 0, column].reset_index(drop=True)
    cur = bike.loc[bike.yr == 1, column].reset_index(drop=True)

    def theirs(test: str) -> float:
        return _stattest(test, ref, cur, categorical=False)

    assert wasserstein_norm(ref, cur) == pytest.approx(theirs("wasserstein_stat_test"), abs=1e-9)
    assert jensenshannon(ref, cur) == pytest.approx(theirs("jensenshannon_stat_test"), abs=1e-9)
    assert psi(ref, cur, bins=None) == pytest.approx(theirs("psi_stat_test"), abs=1e-9)
    assert ks_test(ref, cur)[1] == pytest.approx(theirs("ks_stat_test"), abs=1e-9)


@pytest.mark.parametrize("column", ["weathersit", "hr", "workingday"])
def test_single_tests_agree_on_categories(
    evidently: ModuleType, bike: pd.DataFrame, column: str
) -> None:
    ref = bike.loc[bike.mnth == 1, column].reset_index(drop=True)
    cur = bike.loc[bike.mnth == 7, column].reset_index(drop=True)

    def theirs(test: str) -> float:
        return _stattest(test, ref, cur, categorical=True)

    js = jensenshannon(ref, cur, categorical=True)
    assert js == pytest.approx(theirs("jensenshannon_stat_test"), abs=1e-9)
    assert psi(ref, cur, categorical=True) == pytest.approx(theirs("psi_stat_test"), abs=1e-9)


def _goodness_of_fit_p(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Evidently's ``chisquare`` stattest on counts: reference shares taken as exact."""
    expected = ref_counts * (cur_counts.sum() / ref_counts.sum())
    return float(stats.chisquare(cur_counts, expected).pvalue)


def test_evidently_chi2_is_goodness_of_fit_ours_is_two_sample(evidently: ModuleType) -> None:
    rng = np.random.default_rng(0)
    shares = np.linspace(1.0, 3.0, 20) / np.linspace(1.0, 3.0, 20).sum()
    ref = pd.Series(rng.choice(20, size=1_000_000, p=shares))
    cur = pd.Series(rng.choice(20, size=1_000_000, p=shares))
    ref_counts, cur_counts = np.bincount(ref, minlength=20), np.bincount(cur, minlength=20)
    theirs = _stattest("chi_stat_test", ref, cur, categorical=True)
    assert theirs == pytest.approx(_goodness_of_fit_p(ref_counts, cur_counts), rel=1e-9)
    table = stats.chi2_contingency(np.vstack([ref_counts, cur_counts]), correction=False)
    assert chi2_counts(ref_counts, cur_counts)[1] == pytest.approx(table.pvalue, rel=1e-9)


def test_false_alarm_rate_on_unchanged_data() -> None:
    """200 seeded pairs of unchanged 20-category windows of 1,000,000 rows each.

    Both windows are samples of one distribution, so a level-0.05 test
    should alarm about 5% of the time. The goodness-of-fit test ignores
    the reference's sampling noise: its statistic is about twice a
    chi-squared(19) variable, P(chi2_19 > 30.14 / 2) ~ 0.72, at any size.
    """
    rng = np.random.default_rng(6)
    shares = np.linspace(1.0, 3.0, 20) / np.linspace(1.0, 3.0, 20).sum()
    ours = theirs = 0
    for _ in range(200):
        ref, cur = rng.multinomial(1_000_000, shares), rng.multinomial(1_000_000, shares)
        ours += chi2_counts(ref, cur)[1] < 0.05
        theirs += _goodness_of_fit_p(ref, cur) < 0.05
    assert 0.01 <= ours / 200 <= 0.10
    assert theirs / 200 >= 0.55
    assert math.isclose(stats.chi2(19).sf(stats.chi2(19).isf(0.05) / 2), 0.72, abs_tol=0.02)
