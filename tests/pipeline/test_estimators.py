"""Estimator families, feature/target selection and tail splits on small synthetic data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlcycle.core import DataConfig, DataError
from mlcycle.pipeline import Xy, build_estimator, features_and_target, split_tail

NUMERIC, CATEGORICAL = ["x1", "x2"], ["color"]


def _synthetic(n: int = 200, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.uniform(0, 10, size=n),
            "color": rng.choice(["red", "green", "blue"], size=n).astype(object),
        }
    )
    frame["y"] = 2 * frame["x1"] + frame["color"].map({"red": 5.0, "green": 0.0, "blue": -5.0})
    frame["label"] = np.where(frame["y"] > 0, "high", "low")
    frame.loc[::7, "x1"] = np.nan
    frame.loc[::11, "color"] = np.nan
    return frame


@pytest.mark.parametrize("family", ["linear", "hgb"])
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_build_estimator_fits_missing_values_and_strings(family: str, task: str) -> None:
    frame = _synthetic()
    target = "y" if task == "regression" else "label"
    params = {"max_iter": 50} if family == "hgb" else {}
    model = build_estimator(
        family,  # type: ignore[arg-type]
        task,  # type: ignore[arg-type]
        params,
        numeric=NUMERIC,
        categorical=CATEGORICAL,
        seed=0,
    )
    X = frame[NUMERIC + CATEGORICAL]
    model.fit(X, frame[target])
    unseen = pd.DataFrame({"x1": [np.nan, 0.5], "x2": [1.0, 2.0], "color": ["purple", "red"]})
    pred = model.predict(unseen)  # unknown category and missing value do not break it
    assert pred.shape == (2,)
    if task == "regression":
        assert np.mean(np.abs(model.predict(X) - frame["y"])) < 2.0  # learned the signal
    else:
        assert set(model.classes_) == {"high", "low"}
        assert model.predict_proba(X).shape == (len(X), 2)
        assert (model.predict(X) == frame["label"]).mean() > 0.8


def test_build_estimator_params_reach_the_model() -> None:
    ridge = build_estimator("linear", "regression", {"alpha": 3.0}, numeric=NUMERIC, categorical=[])
    assert ridge.named_steps["model"].alpha == 3.0
    logistic = build_estimator(
        "linear", "classification", {"C": 0.1}, numeric=NUMERIC, categorical=[]
    )
    assert logistic.named_steps["model"].C == 0.1
    hgb = build_estimator(
        "hgb",
        "regression",
        {"learning_rate": 0.05},
        numeric=NUMERIC,
        categorical=CATEGORICAL,
        seed=9,
    )
    assert hgb.named_steps["model"].learning_rate == 0.05
    assert hgb.named_steps["model"].random_state == 9
    assert hgb.named_steps["model"].categorical_features == [True, False, False]


def test_hgb_is_reproducible_with_a_seed() -> None:
    frame = _synthetic()
    X = frame[NUMERIC + CATEGORICAL]

    def fitted_predictions() -> np.ndarray:
        model = build_estimator(
            "hgb", "regression", {"max_iter": 30}, numeric=NUMERIC, categorical=CATEGORICAL, seed=1
        )
        return model.fit(X, frame["y"]).predict(X)  # type: ignore[no-any-return]

    np.testing.assert_array_equal(fitted_predictions(), fitted_predictions())


def _data_config(**kw: object) -> DataConfig:
    return DataConfig(path="x.csv", target="y", numeric=("x1", "x2"), categorical=("color",), **kw)  # type: ignore[arg-type]


def test_features_and_target_drops_unlabeled_rows() -> None:
    frame = _synthetic(20)
    frame.loc[[0, 5, 6], "y"] = np.nan
    xy = features_and_target(frame, _data_config())
    assert len(xy) == 17
    assert list(xy.X.columns) == ["x1", "x2", "color"]
    assert xy.X.index.tolist() == list(range(17))
    assert xy.y.tolist() == frame["y"].drop([0, 5, 6]).tolist()
    assert xy.X["color"].dtype == object
    assert xy.X["color"].isna().sum() == frame["color"].drop([0, 5, 6]).isna().sum()


def test_features_and_target_errors() -> None:
    frame = _synthetic(20)
    with pytest.raises(DataError, match="Column 'x2' is missing"):
        features_and_target(frame.drop(columns="x2"), _data_config())
    with pytest.raises(DataError, match="Target column 'y' has no values"):
        features_and_target(frame.assign(y=np.nan), _data_config())


def test_split_tail_keeps_order() -> None:
    xy = Xy(pd.DataFrame({"a": range(10)}), pd.Series(range(10)))
    head, tail = split_tail(xy, 0.2)
    assert head.y.tolist() == list(range(8))
    assert tail.y.tolist() == [8, 9]
    with pytest.raises(DataError, match="too few"):
        split_tail(Xy(xy.X.iloc[:2], xy.y.iloc[:2]), 0.2)
