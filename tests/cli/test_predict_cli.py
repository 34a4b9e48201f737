"""`mlcycle predict`: batch scoring of a file with a registered model, as a user runs it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import Cli, bike_config
from tests.models.custom_models import register_lightgbm

import mlcycle
from mlcycle.data import BIKE_SHARING_CSV
from mlcycle.store import Workspace

FEATURES = ["hr", "temp", "atemp", "hum", "windspeed", "season", "weekday", "weathersit"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A workspace where `bike-lgbm@production` is a LightGBM regressor."""
    workspace = Workspace(tmp_path_factory.mktemp("predict") / "ws", bike_config())
    register_lightgbm(workspace, "bike-lgbm", pd.read_csv(BIKE_SHARING_CSV).head(3000), FEATURES)
    yield workspace
    workspace.close()


def test_predict_scores_a_csv_into_parquet(cli: Cli, ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "scores.parquet"
    args = ["--input", str(BIKE_SHARING_CSV), "--output", str(out), "--keep", "instant"]
    done = cli(ws.root, "predict", "bike-lgbm@production", *args, "--batch-rows", "5000")
    assert done.returncode == 0, done.stderr
    assert f"Scored 17379 rows with bike-lgbm v1 in 1 part(s): {out}" in done.stdout
    scored = pd.read_parquet(out)
    bike = pd.read_csv(BIKE_SHARING_CSV)
    assert list(scored.columns) == ["instant", "prediction"]
    want = mlcycle.load_model("bike-lgbm@production", workspace=ws).predict(bike)
    np.testing.assert_array_equal(scored["prediction"], want)


def test_a_missing_column_exits_2_with_one_line(cli: Cli, ws: Workspace, tmp_path: Path) -> None:
    pd.read_csv(BIKE_SHARING_CSV).head(50).drop(columns=["temp"]).to_csv(tmp_path / "in.csv")
    out = tmp_path / "out.parquet"
    args = ["--input", str(tmp_path / "in.csv"), "--output", str(out)]
    done = cli(ws.root, "predict", "bike-lgbm@production", *args)
    assert done.returncode == 2
    assert done.stderr == "Error: Column 'temp' (model input) is not in the input file\n"
    assert not out.exists()
