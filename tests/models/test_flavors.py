"""Every flavor round-trips: save, store, fetch, load, and predict as the framework does."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from mlcycle.core import ConfigError, InputError
from mlcycle.data import BIKE_SHARING_CSV
from mlcycle.models import (
    MODEL_YAML,
    Signature,
    fetch_package,
    infer_flavor,
    load_package,
    save_model,
    store_package,
)
from mlcycle.store import ObjectStore

FEATURES = ["hr", "temp", "atemp", "hum", "windspeed", "season", "weekday", "weathersit"]


@pytest.fixture(scope="module")
def bike() -> pd.DataFrame:
    """1,500 hours of bike rentals with a 3-level demand label."""
    rows = pd.read_csv(BIKE_SHARING_CSV).head(1500)
    rows["demand"] = pd.cut(rows["cnt"], [-1, 25, 100, 10_000], labels=["low", "mid", "high"])
    rows["demand"] = rows["demand"].astype(str)
    return rows


def round_trip(model: Any, tmp_path: Path, task: str, signature: Signature, **kw: Any) -> Any:
    """Save, store, fetch and load `model` through the object store, as serving does."""
    objects = ObjectStore(str(tmp_path / "objects"))
    folder = save_model(model, tmp_path / "pkg", task=task, signature=signature, **kw)  # type: ignore[arg-type]
    fetched = fetch_package(objects, store_package(objects, folder), tmp_path / "cache")
    return load_package(fetched)


def regression(bike: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series, Signature]:
    X, y = bike[FEATURES], bike["cnt"].astype(float)
    return X, y, Signature.infer(X, y)


def classification(
    bike: pd.DataFrame, encode: bool = False
) -> tuple[pd.DataFrame, pd.Series, Signature]:
    X, y = bike[FEATURES], bike["demand"]
    classes = sorted(y.unique())
    if encode:  # XGBoost's and PyTorch's classifiers learn class indices
        y = y.map({c: i for i, c in enumerate(classes)})
    return X, y, Signature.infer(X, y, classes=classes)


def lightgbm(task: str) -> Any:
    import lightgbm as lgb

    cls = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
    return cls(n_estimators=30, num_leaves=15, random_state=0, verbose=-1)


def xgboost(task: str) -> Any:
    import xgboost as xgb

    cls = xgb.XGBRegressor if task == "regression" else xgb.XGBClassifier
    return cls(n_estimators=30, max_depth=4, random_state=0)


def sklearn(task: str) -> Any:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    cls = DecisionTreeRegressor if task == "regression" else DecisionTreeClassifier
    return cls(max_depth=6, random_state=0)


@pytest.mark.parametrize("task", ["regression", "classification"])
@pytest.mark.parametrize(
    ("make", "flavor"), [(sklearn, "sklearn"), (lightgbm, "lightgbm"), (xgboost, "xgboost")]
)
def test_tree_flavors_predict_as_the_framework(
    bike: pd.DataFrame, tmp_path: Path, make: Callable[[str], Any], flavor: str, task: str
) -> None:
    X, y, signature = (
        regression(bike) if task == "regression" else classification(bike, flavor == "xgboost")
    )
    model = make(task).fit(X, y)
    loaded = round_trip(model, tmp_path, task, signature)
    assert loaded.meta.flavor == flavor == infer_flavor(model)
    assert loaded.meta.runtime == "native"
    got = loaded.predict(X)
    assert got.shape == (len(X),)
    if task == "regression":
        np.testing.assert_allclose(got, model.predict(X), rtol=1e-6)
        return
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), rtol=1e-6)
    labels = np.asarray(signature.classes)[model.predict_proba(X).argmax(axis=1)]
    assert list(got) == list(labels)  # class names, even for XGBoost's indices
    assert set(got) == {"high", "low", "mid"}


def test_the_server_calls_the_adapter_like_an_estimator(bike: pd.DataFrame, tmp_path: Path) -> None:
    X, y, signature = classification(bike)
    loaded = round_trip(lightgbm("classification").fit(X, y), tmp_path, "classification", signature)
    inputs = signature.validate(X.head(5))  # exactly what serving.Predictor passes
    assert loaded.estimator.predict(inputs).shape == (5,)
    assert loaded.estimator.predict_proba(inputs).shape == (5, 3)


def trained_mlp(X: pd.DataFrame, n_outputs: int) -> Any:
    import torch
    from tests.models.custom_models import Mlp

    torch.manual_seed(0)
    return Mlp(X.shape[1], n_outputs).eval()


def torch_outputs(module: Any, X: pd.DataFrame) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return module(torch.tensor(X.to_numpy(np.float32))).numpy()  # type: ignore[no-any-return]


def test_pytorch_state_dict_rebuilds_the_module_class(bike: pd.DataFrame, tmp_path: Path) -> None:
    X, _, signature = classification(bike, encode=True)
    net = trained_mlp(X, 3)
    loaded = round_trip(
        net,
        tmp_path,
        "classification",
        signature,
        options={"init_args": {"n_inputs": 8, "n_outputs": 3}},
    )
    meta = yaml.safe_load((tmp_path / "pkg" / MODEL_YAML).read_text())
    assert meta["module_class"] == "tests.models.custom_models:Mlp"
    assert meta["mode"] == "state_dict" and meta["versions"]["torch"].startswith("2.")
    logits = torch_outputs(net, X)
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loaded.predict_proba(X), expected, rtol=1e-5)
    assert list(loaded.predict(X)) == list(np.asarray(signature.classes)[logits.argmax(axis=1)])


def test_pytorch_torchscript_regressor(bike: pd.DataFrame, tmp_path: Path) -> None:
    import torch

    X, _, signature = regression(bike)
    net = trained_mlp(X, 1)
    with pytest.warns(DeprecationWarning, match="torch.jit"):  # PyTorch 2.13 deprecates it
        scripted = torch.jit.script(net)
    loaded = round_trip(scripted, tmp_path, "regression", signature)
    assert loaded.meta.options["mode"] == "torchscript"
    np.testing.assert_allclose(loaded.predict(X), torch_outputs(net, X)[:, 0], rtol=1e-6)


def test_onnx_models_run_on_onnxruntime(bike: pd.DataFrame, tmp_path: Path) -> None:
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    X, y, signature = regression(bike)
    model = lightgbm("regression").fit(X, y)
    proto = convert_lightgbm(model.booster_, initial_types=[("x", FloatTensorType([None, 8]))])
    loaded = round_trip(proto, tmp_path, "regression", signature)
    assert (loaded.meta.flavor, loaded.meta.runtime) == ("onnx", "onnx")
    np.testing.assert_allclose(loaded.predict(X), model.predict(X), rtol=1e-5)


def test_pyfunc_loads_code_by_import_path_and_its_artifacts(
    bike: pd.DataFrame, tmp_path: Path
) -> None:
    from tests.models.custom_models import TempScaled

    X, _, signature = regression(bike)
    loaded = round_trip(TempScaled(100.0, 5.0), tmp_path, "regression", signature, flavor="pyfunc")
    assert loaded.meta.options["python_class"] == "tests.models.custom_models:TempScaled"
    np.testing.assert_allclose(loaded.predict(X), 100.0 * X["temp"] + 5.0)


def test_pyfunc_class_must_be_importable(bike: pd.DataFrame, tmp_path: Path) -> None:
    class Local:
        def predict(self, frame: pd.DataFrame) -> np.ndarray:
            return np.zeros(len(frame))

    _, _, signature = regression(bike)
    with pytest.raises(InputError, match="must live in an importable module"):
        save_model(
            Local(), tmp_path / "pkg", task="regression", signature=signature, flavor="pyfunc"
        )
    assert not (tmp_path / "pkg").exists()


def test_unknown_models_and_string_inputs_are_input_errors(
    bike: pd.DataFrame, tmp_path: Path
) -> None:
    X, y, _ = regression(bike)
    with pytest.raises(
        InputError, match=r"no model flavor for builtins\.dict; pass flavor='pyfunc'"
    ):
        infer_flavor({})
    with_text = X.assign(season=X["season"].map(str))
    model = lightgbm("regression").fit(X, y)
    with pytest.raises(InputError, match="column 'season' is string"):
        save_model(
            model, tmp_path / "pkg", task="regression", signature=Signature.infer(with_text, y)
        )


def test_missing_framework_names_the_extra(
    bike: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y, signature = regression(bike)
    folder = save_model(
        lightgbm("regression").fit(X, y), tmp_path / "pkg", task="regression", signature=signature
    )
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'mlcycle\[lightgbm\]'") as err:
        load_package(folder)
    assert err.value.exit_code == 2
