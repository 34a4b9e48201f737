"""ONNX acceleration: faithful conversions are served by onnxruntime, others natively."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlcycle.data import BIKE_SHARING_CSV
from mlcycle.models import Signature, load_package, save_model
from mlcycle.models._onnx_check import TOLERANCE, compare
from mlcycle.pipeline._estimators import build_estimator

NUMERIC = ["hr", "temp", "atemp", "hum", "windspeed"]
CATEGORICAL = ["season", "weekday", "weathersit"]


@pytest.fixture(scope="module")
def bike() -> tuple[pd.DataFrame, pd.Series]:
    rows = pd.read_csv(BIKE_SHARING_CSV).head(2000)
    return rows[NUMERIC + CATEGORICAL], rows["cnt"].astype(float)


def lightgbm_regressor(X: pd.DataFrame, y: pd.Series) -> tuple[Any, Signature, str]:
    import lightgbm as lgb

    model = lgb.LGBMRegressor(n_estimators=50, random_state=0, verbose=-1).fit(X, y)
    return model, Signature.infer(X, y), "model.lgb.txt"


def xgboost_classifier(X: pd.DataFrame, y: pd.Series) -> tuple[Any, Signature, str]:
    import xgboost as xgb

    busy = (y > 60).astype(int)
    model = xgb.XGBClassifier(n_estimators=30, max_depth=4, random_state=0).fit(X, busy)
    return model, Signature.infer(X, busy, classes=[0, 1]), "model.xgb.json"


def sklearn_pipeline_classifier(X: pd.DataFrame, y: pd.Series) -> tuple[Any, Signature, str]:
    """The training pipeline's `linear` family: imputers, scaler, one-hot, logistic regression."""
    busy = (y > 60).map({True: "busy", False: "quiet"})
    model = build_estimator(
        "linear", "classification", {}, numeric=NUMERIC, categorical=CATEGORICAL
    ).fit(X, busy)
    return model, Signature.infer(X, busy, classes=list(model.classes_)), "model.skops"


@pytest.mark.parametrize(
    "make", [lightgbm_regressor, xgboost_classifier, sklearn_pipeline_classifier]
)
def test_faithful_conversion_is_served_by_onnxruntime(
    bike: tuple[pd.DataFrame, pd.Series], tmp_path: Path, make: Any
) -> None:
    X, y = bike
    model, signature, native_file = make(X, y)
    task = "regression" if signature.classes is None else "classification"
    folder = save_model(model, tmp_path / "pkg", task=task, signature=signature, evaluation_data=X)
    (folder / native_file).unlink()  # only model.onnx is left to predict with
    loaded = load_package(folder)
    assert loaded.meta.runtime == "onnx"
    assert loaded.meta.onnx_max_diff is not None
    assert 0 <= loaded.meta.onnx_max_diff <= TOLERANCE * max(1.0, float(np.abs(y).max()))
    if task == "regression":
        np.testing.assert_allclose(
            loaded.predict(X), model.predict(X), rtol=TOLERANCE, atol=TOLERANCE
        )
        return
    assert list(loaded.predict(X)) == list(model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), atol=TOLERANCE)


def test_unfaithful_conversion_falls_back_to_native(tmp_path: Path) -> None:
    """A linear model on raw Unix timestamps: float32 (ONNX) cannot hold them to the second."""
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"ts": 1.3e9 + rng.integers(0, 86_400, 500).astype(float)})
    y = (X["ts"] - 1.3e9) / 3600.0  # hours since a reference time
    model = LinearRegression().fit(X, y)
    folder = save_model(
        model,
        tmp_path / "pkg",
        task="regression",
        signature=Signature.infer(X, y),
        evaluation_data=X,
    )
    loaded = load_package(folder)
    assert loaded.meta.runtime == "native"
    assert loaded.meta.onnx_max_diff is not None and loaded.meta.onnx_max_diff > 0.01  # ~minutes
    assert not (folder / "model.onnx").exists()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_unconvertible_model_is_served_natively(
    bike: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    """The `hgb` family's native categorical splits have no ONNX converter."""
    X, y = bike
    model = build_estimator(
        "hgb", "regression", {"max_iter": 20}, numeric=NUMERIC, categorical=CATEGORICAL
    ).fit(X, y)
    signature = Signature.infer(X, y)
    folder = save_model(
        model, tmp_path / "pkg", task="regression", signature=signature, evaluation_data=X
    )
    loaded = load_package(folder)
    assert (loaded.meta.runtime, loaded.meta.onnx_max_diff) == ("native", None)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_without_onnxruntime_the_native_model_serves(
    bike: tuple[pd.DataFrame, pd.Series], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = bike
    model, signature, _ = lightgbm_regressor(X, y)
    folder = save_model(
        model, tmp_path / "pkg", task="regression", signature=signature, evaluation_data=X
    )
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    loaded = load_package(folder)
    assert loaded.meta.runtime == "onnx"  # what the package offers ...
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))  # ... LightGBM answers


class Fixed:
    def __init__(self, values: list[float]) -> None:
        self.values = np.asarray(values)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.values


@pytest.mark.parametrize(
    ("native", "onnx", "faithful"),
    [
        ([0.5, 1000.0], [0.500009, 1000.009], True),  # 1e-5 absolute below 1, relative above
        ([0.5, 1000.0], [0.500011, 1000.0], False),
        ([0.5, 1000.0], [0.5, 1000.011], False),
    ],
)
def test_tolerance_is_absolute_below_one_and_relative_above(
    native: list[float], onnx: list[float], faithful: bool
) -> None:
    frame = pd.DataFrame({"x": [0.0, 1.0]})
    assert compare(Fixed(native), Fixed(onnx), frame, "regression").faithful is faithful
