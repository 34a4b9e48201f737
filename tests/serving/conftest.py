"""Shared fixtures for the serving tests: a workspace with two registered versions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import bike_config

from mlcycle.core import Config
from mlcycle.data import BIKE_SHARING_CSV, snapshot
from mlcycle.pipeline import features_and_target, train_candidate, train_initial_model
from mlcycle.store import Workspace

MODEL = "bike-demand"


@dataclass(frozen=True)
class Served:
    """A workspace where `bike-demand` v1 (alias `production`) and v2 (no alias) exist."""

    ws: Workspace
    config: Config
    rows: pd.DataFrame  # raw CSV rows (all columns, including dteday) to send as requests


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Train and register two small versions once for the whole serving suite.

    Tests that move aliases use their own alias names, so `production` stays on v1.
    """
    config = bike_config()
    ws = Workspace(Path(tmp_path_factory.mktemp("serving")) / "ws", config)
    dataset = snapshot(ws, BIKE_SHARING_CSV)
    bike = pd.read_csv(BIKE_SHARING_CSV)
    first = bike[bike["dteday"] < "2011-06-01"]  # ~3,500 rows of 2011
    trained = train_initial_model(ws, config, first, dataset)
    assert trained.version.version == 1 and trained.result is not None
    data = config.require_data()
    later = bike[(bike["dteday"] >= "2011-03-01") & (bike["dteday"] < "2011-08-01")]
    evaluate_on = bike[(bike["dteday"] >= "2011-08-01") & (bike["dteday"] < "2011-09-01")]
    candidate = train_candidate(
        ws, config, features_and_target(later, data), trained.result.family, trained.result.params,
        datasets=[dataset], window="2011-03..2011-07",
        evaluate_on=features_and_target(evaluate_on, data),
    )  # fmt: skip
    assert candidate.version.version == 2
    rows = bike[bike["dteday"] >= "2012-06-01"].head(40).reset_index(drop=True)
    yield Served(ws, config, rows)
    ws.close()
