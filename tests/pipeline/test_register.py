"""Packaging a trained model for the registry: an ONNX copy when it is faithful."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression
from tests.conftest import bike_config

from mlcycle.models import fetch_package, load_package
from mlcycle.pipeline._register import ONNX_CHECK_ROWS, _package
from mlcycle.pipeline._training import Xy
from mlcycle.store import Workspace
from mlcycle.tracking import start_run


def _xy(rows: int) -> Xy:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"temp": rng.normal(20, 5, rows), "hr": rng.integers(0, 24, rows)})
    return Xy(x, pd.Series(3 * x["temp"] + x["hr"] + rng.normal(0, 1, rows), name="cnt"))


@pytest.mark.parametrize("model", [LinearRegression(), RandomForestRegressor(20, random_state=0)])
def test_a_registered_model_is_served_through_onnx_when_faithful(
    tmp_path: Path, model: object
) -> None:
    ws = Workspace(tmp_path / "ws", bike_config())
    train = _xy(ONNX_CHECK_ROWS + 500)
    model.fit(train.X, train.y)  # type: ignore[attr-defined]
    with start_run(ws, experiment="bike-demand") as run:
        package_id = _package(run, model, train, ws.config, {}, {}, {})
    loaded = load_package(fetch_package(ws.objects, package_id, tmp_path / "packages"))
    ws.close()
    assert loaded.meta.runtime == "onnx"
    assert loaded.meta.onnx_max_diff is not None and loaded.meta.onnx_max_diff < 1e-3
    predictions, _ = loaded.outputs(train.X.head(50))
    expected = model.predict(train.X.head(50))  # type: ignore[attr-defined]
    assert predictions == pytest.approx(expected, rel=1e-5, abs=1e-5)
