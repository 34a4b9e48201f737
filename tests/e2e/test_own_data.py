"""`mlcycle init` + `mlcycle loop --replay` on data that is not the demo's.

The data is real (UCI Bike Sharing), but shaped like a user's own file:
a multi-class target (`weathersit`), text categories, missing values, an
id column and no config written by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlcycle.data import BIKE_SHARING_CSV

pytestmark = pytest.mark.slow
SEASONS = {1: "winter", 2: "spring", 3: "summer", 4: "fall"}


@pytest.fixture
def weather_csv(tmp_path: Path) -> Path:
    frame = pd.read_csv(BIKE_SHARING_CSV).drop(columns=["casual", "registered"])
    frame["season"] = frame["season"].map(SEASONS)
    rng = np.random.default_rng(0)
    frame.loc[rng.random(len(frame)) < 0.05, "hum"] = np.nan
    frame.loc[rng.random(len(frame)) < 0.02, "season"] = None
    path = tmp_path / "weather.csv"
    frame.to_csv(path, index=False)
    return path


def test_classification_on_own_csv(tmp_path: Path, weather_csv: Path, cli: Any) -> None:
    ws = tmp_path / "ws"
    init = cli(
        ws, "init", "--data", str(weather_csv), "--target", "weathersit", "--time-column", "dteday"
    )
    assert init.returncode == 0, init.stderr
    assert "classification" in init.stdout
    assert "instant" in init.stderr and "identifier" in init.stderr
    assert "season" in init.stdout
    (ws / "mlcycle.yaml").write_text((ws / "mlcycle.yaml").read_text() + "automl:\n  trials: 2\n")
    run = cli(ws, "loop", "--replay", "--windows", "2", "--json")
    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)
    assert [r["window"] for r in rows] == ["2012-01", "2012-02"]
    report = json.loads((ws / "reports" / "loop-report.json").read_text())
    assert report["metric"] == "log_loss"
    live = report["live_metrics"]["2012-01"]
    assert set(live) == {"accuracy", "f1", "log_loss"}
    assert 0.0 <= live["accuracy"] <= 1.0


def test_regression_without_time_column(tmp_path: Path, weather_csv: Path, cli: Any) -> None:
    ws = tmp_path / "ws"
    frame = pd.read_csv(weather_csv).drop(columns=["dteday"]).head(3000)
    frame.to_csv(tmp_path / "plain.csv", index=False)
    assert cli(ws, "init", "--data", str(tmp_path / "plain.csv"), "--target", "cnt").returncode == 0
    (ws / "mlcycle.yaml").write_text(
        (ws / "mlcycle.yaml").read_text() + "automl:\n  trials: 2\nsplit:\n  n_windows: 2\n"
    )
    run = cli(ws, "loop", "--replay", "--json")
    assert run.returncode == 0, run.stderr
    assert [r["window"] for r in json.loads(run.stdout)] == ["w01", "w02"]
