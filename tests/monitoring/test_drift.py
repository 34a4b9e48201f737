"""detect_drift and prediction_drift."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from mlcycle.core import DataError, DriftConfig
from mlcycle.monitoring import (
    DriftResult,
    choose_test,
    detect_drift,
    prediction_drift,
    target_drift,
)
from mlcycle.monitoring._stats import chi2_counts


def _frames(seed: int = 0, n: int = 20_000) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def frame(shift: float, weights: list[float]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "temp": rng.normal(loc=shift, size=n),
                "hum": rng.uniform(size=n),
                "weather": rng.choice(["clear", "mist", "rain"], size=n, p=weights),
                "season": rng.choice(["a", "b"], size=n),
            }
        )

    return frame(0.0, [0.6, 0.3, 0.1]), frame(1.0, [0.2, 0.3, 0.5])


NUMERIC, CATEGORICAL = ["temp", "hum"], ["weather", "season"]


def test_flags_shifted_columns_and_not_unchanged_ones() -> None:
    ref, cur = _frames()
    result = detect_drift(ref, cur, numeric=NUMERIC, categorical=CATEGORICAL, config=DriftConfig())
    assert result.drifted_features == ["temp", "weather"]
    assert result.share == 0.5 and result.drifted
    assert (result.n_reference, result.n_current) == (20_000, 20_000)
    by_name = {f.feature: f for f in result.features}
    # 20,000 reference rows: Evidently's defaults pick distances
    assert by_name["temp"].test == "wasserstein" and by_name["weather"].test == "jensenshannon"
    assert by_name["hum"].statistic < 0.05 and by_name["hum"].psi < 0.05
    assert math.isnan(by_name["hum"].p_value) and by_name["hum"].threshold == 0.1
    classic = DriftConfig(numeric_test="ks", categorical_test="chi2")
    same = detect_drift(ref, cur, numeric=NUMERIC, categorical=CATEGORICAL, config=classic)
    assert same.drifted_features == ["temp", "weather"]
    assert [f.test for f in same.features] == ["ks", "ks", "chi2", "chi2"]


def test_psi_threshold_gates_significant_but_small_shifts() -> None:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.normal(size=200_000)})
    cur = pd.DataFrame({"x": rng.normal(loc=0.05, size=200_000)})
    ks = DriftConfig(numeric_test="ks")
    gated = detect_drift(ref, cur, numeric=["x"], categorical=[], config=ks)
    assert gated.features[0].p_value < 1e-10 and not gated.drifted
    ungated = DriftConfig(numeric_test="ks", psi_threshold=None)
    assert detect_drift(ref, cur, numeric=["x"], categorical=[], config=ungated).drifted


def test_config_features_restricts_the_tests() -> None:
    ref, cur = _frames()
    config = DriftConfig(features=("hum", "weather"))
    result = detect_drift(ref, cur, numeric=NUMERIC, categorical=CATEGORICAL, config=config)
    assert [f.feature for f in result.features] == ["hum", "weather"]
    with pytest.raises(DataError, match="'nope'"):
        detect_drift(
            ref, cur, numeric=NUMERIC, categorical=[], config=DriftConfig(features=("nope",))
        )


@pytest.mark.parametrize("window", ["reference", "current"])
def test_missing_column_names_it(window: str) -> None:
    ref, cur = _frames(n=100)
    frames = {"reference": ref, "current": cur}
    frames[window] = frames[window].drop(columns="temp")
    with pytest.raises(DataError, match=f"Column 'temp' is missing from the {window} window"):
        detect_drift(
            frames["reference"],
            frames["current"],
            numeric=NUMERIC,
            categorical=[],
            config=DriftConfig(),
        )


def test_non_numeric_numeric_column_raises() -> None:
    ref, cur = _frames(n=100)
    with pytest.raises(DataError, match="'weather'"):
        detect_drift(ref, cur, numeric=["weather"], categorical=[], config=DriftConfig())


def test_empty_current_window_is_not_enough_data() -> None:
    ref, cur = _frames(n=500)
    result = detect_drift(
        ref, cur.iloc[:0], numeric=NUMERIC, categorical=CATEGORICAL, config=DriftConfig()
    )
    assert result.n_current == 0 and result.share == 0.0 and not result.drifted
    for feature in result.features:
        assert feature.note == "not enough data" and not feature.drifted
        assert math.isnan(feature.statistic) and math.isnan(feature.p_value)
    payload = result.to_dict()
    assert payload["features"][0]["p_value"] is None
    json.dumps(payload, allow_nan=False)


def test_all_null_column_does_not_count_in_share() -> None:
    ref, cur = _frames(n=2_000)
    cur["hum"] = np.nan
    result = detect_drift(ref, cur, numeric=NUMERIC, categorical=[], config=DriftConfig())
    assert result.features[1].note == "not enough data"
    assert result.share == 1.0  # temp drifted; hum is not in the denominator


def test_constant_columns() -> None:
    ref = pd.DataFrame({"k": np.full(1000, 3.0), "c": ["x"] * 1000})
    cur = pd.DataFrame({"k": np.full(800, 3.0), "c": ["x"] * 800})
    result = detect_drift(ref, cur, numeric=["k"], categorical=["c"], config=DriftConfig())
    assert not result.drifted and result.share == 0.0
    assert [f.p_value for f in result.features] == [1.0, 1.0]
    assert [f.psi for f in result.features] == [0.0, 0.0]


def test_nullable_and_integer_dtypes() -> None:
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"n": pd.array(rng.integers(0, 10, 5000), dtype="Int64")})
    cur = pd.DataFrame({"n": pd.array(rng.integers(5, 15, 5000), dtype="Int64")})
    cur.loc[::7, "n"] = pd.NA
    result = detect_drift(ref, cur, numeric=["n"], categorical=[], config=DriftConfig())
    assert result.drifted_features == ["n"]


def test_prediction_drift() -> None:
    rng = np.random.default_rng(2)
    config = DriftConfig()
    num = prediction_drift(
        rng.normal(size=5000), rng.normal(2, size=5000), categorical=False, config=config
    )
    assert num.feature == "prediction" and num.test == "wasserstein" and num.drifted
    same = rng.choice(["x", "y", "z"], size=10_000)
    cat = prediction_drift(same[:5000], same[5000:], categorical=True, config=config)
    assert cat.test == "jensenshannon" and not cat.drifted
    small = prediction_drift(same[:500], same[500:1000], categorical=True, config=config)
    assert small.test == "chi2" and not small.drifted


def test_target_drift_uses_the_same_choice() -> None:
    rng = np.random.default_rng(4)
    labels = rng.choice([0, 1], size=800)
    flipped = target_drift(labels, 1 - labels[:300], categorical=True, config=DriftConfig())
    assert flipped.feature == "target" and flipped.test == "z"
    assert flipped.p_value == pytest.approx(
        chi2_counts(np.bincount(labels), np.bincount(1 - labels[:300]))[1], rel=1e-9
    )


@pytest.mark.parametrize(
    ("categorical", "n_ref", "n_unique", "expected"),
    [
        (False, 1000, 50, "ks"),
        (False, 1001, 50, "wasserstein"),
        (False, 1000, 5, "chi2"),
        (False, 1000, 2, "z"),
        (False, 5000, 5, "jensenshannon"),
        (True, 1000, 3, "chi2"),
        (True, 1000, 2, "z"),
        (True, 1001, 2, "jensenshannon"),
    ],
)
def test_default_choice_follows_evidently(
    categorical: bool, n_ref: int, n_unique: int, expected: str
) -> None:
    assert choose_test(categorical, n_ref, n_unique, DriftConfig()) == expected
    forced = DriftConfig(numeric_test="psi", categorical_test="psi")
    assert choose_test(categorical, n_ref, n_unique, forced) == "psi"


def test_per_test_thresholds() -> None:
    ref, cur = _frames(n=5000)
    cur["temp"] = ref["temp"] + 0.15  # normalized Wasserstein about 0.15
    loose = DriftConfig(thresholds={"wasserstein": 0.2})
    assert detect_drift(ref, cur, numeric=["temp"], categorical=[], config=DriftConfig()).drifted
    result = detect_drift(ref, cur, numeric=["temp"], categorical=[], config=loose)
    assert not result.drifted and result.features[0].threshold == 0.2
    with pytest.raises(ValueError, match="wasserstien"):
        DriftConfig(thresholds={"wasserstien": 0.2})


def test_z_test_refuses_three_categories() -> None:
    ref, cur = _frames(n=200)
    config = DriftConfig(categorical_test="z")
    with pytest.raises(DataError, match="Column 'weather' has 3 values"):
        detect_drift(ref, cur, numeric=[], categorical=["weather"], config=config)


def test_result_round_trips_to_json() -> None:
    ref, cur = _frames(n=1000)
    result = detect_drift(ref, cur, numeric=NUMERIC, categorical=CATEGORICAL, config=DriftConfig())
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["drifted_features"] == result.drifted_features
    assert isinstance(result, DriftResult) and len(data["features"]) == 4


def test_large_frame_finds_the_one_shifted_feature() -> None:
    # speed is measured by benchmarks, never asserted in tests (shared, noisy machines)
    rng = np.random.default_rng(11)
    n = 200_000  # the 1,000,000-row run is benchmarks/drift.py
    cols = {f"x{i}": rng.normal(size=n) for i in range(20)}
    ref = pd.DataFrame(cols | {f"c{i}": rng.integers(0, 20, n) for i in range(5)})
    cur = ref.sample(frac=1.0, random_state=1, ignore_index=True)
    cur["x0"] = cur["x0"] + 0.5
    result = detect_drift(
        ref,
        cur,
        numeric=[f"x{i}" for i in range(20)],
        categorical=[f"c{i}" for i in range(5)],
        config=DriftConfig(),
    )
    assert result.drifted_features == ["x0"]
