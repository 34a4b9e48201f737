"""The loop controller on small, hand-made inference logs: bad input, restarts, leases."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import bike_config

from mlcycle.core import Config, ConfigError, parse_config
from mlcycle.data import BIKE_SHARING_CSV, snapshot
from mlcycle.loop import Controller, LoopState, add_labels, load_state, loop_history
from mlcycle.loop._durable import commit
from mlcycle.loop._windows import WindowCheck
from mlcycle.pipeline import train_initial_model
from mlcycle.registry import alias_version
from mlcycle.serving import log_predictions
from mlcycle.store import Workspace
from mlcycle.tracking import FAILED, get_run, start_run

MODEL = "bike-demand"
POLICY = {
    "schedule": "0 0 * * *",
    "window": {"size": "7D", "label_delay": "1D"},
    "monitors": {"drift_share": 0.3, "metric_factor": 1.2, "consecutive": 1, "min_rows": 20},
}


def _config(**policy: object) -> Config:
    return bike_config(
        loop={"policy": {**POLICY, **policy}},
        split={"train_end": "2011-03-01"},
        automl={"trials": 1, "families": ["linear"]},
    )


@pytest.fixture(scope="module")
def trained_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace whose `production` is a linear model of Jan-Feb 2011 (trained once)."""
    root = tmp_path_factory.mktemp("loop") / "ws"
    config = _config()
    with Workspace(root, config) as ws:
        bike = pd.read_csv(BIKE_SHARING_CSV)
        train_initial_model(
            ws, config, bike[bike["dteday"] < "2011-03-01"], snapshot(ws, BIKE_SHARING_CSV)
        )
    return root


@pytest.fixture
def ws(trained_ws: Path, tmp_path: Path) -> Iterator[Workspace]:
    root = tmp_path / "ws"
    shutil.copytree(trained_ws, root)
    with Workspace(root, _config()) as workspace:
        yield workspace


def _serve(ws: Workspace, rows: pd.DataFrame, request: str, *, label: bool = True) -> list[str]:
    inputs = rows.drop(columns=["cnt"])
    ids = log_predictions(ws, request, MODEL, 1, inputs, [100.0] * len(rows))
    if label:
        add_labels(ws, ids, rows["cnt"].tolist())
    return ids


def _march(weeks: int) -> pd.DataFrame:
    bike = pd.read_csv(BIKE_SHARING_CSV)
    days = pd.to_datetime(bike["dteday"])
    start = pd.Timestamp("2011-03-07")  # a Monday: 7D windows start at the first logged day
    return bike[(days >= start) & (days < start + pd.Timedelta(weeks=weeks))].reset_index(drop=True)


def _actions(ws: Workspace) -> list[str]:
    return [d.action for d in reversed(loop_history(ws, MODEL))]


def test_a_policy_typo_names_the_key_and_the_closest_one() -> None:
    with pytest.raises(ConfigError, match=r"loop\.policy\.monitors\.drift_shar.*'drift_share'"):
        parse_config({"loop": {"policy": {"monitors": {"drift_shar": 0.3}}}})
    with pytest.raises(ConfigError, match=r"loop\.policy\.schedule.*cron"):
        parse_config({"loop": {"policy": {"schedule": "every day"}}})
    with pytest.raises(ConfigError, match=r"loop\.policy\.window\.size"):
        parse_config({"loop": {"policy": {"window": {"size": "fortnightly"}}}})


def test_a_controller_needs_a_policy(workspace: Workspace) -> None:
    with pytest.raises(ConfigError, match=r"loop\.policy"):
        Controller(workspace, bike_config())


def test_an_empty_window_gives_not_enough_data(ws: Workspace) -> None:
    rows = _march(3)
    days = pd.to_datetime(rows["dteday"])
    _serve(ws, rows[days < "2011-03-14"], "week1")
    _serve(ws, rows[days >= "2011-03-21"], "week3")  # nothing in the week of the 14th
    result = Controller(ws, ws.config).tick(datetime(2011, 3, 29))
    windows = [d for d in result.decisions if isinstance(d.evidence.get("window"), WindowCheck)]
    assert [d.evidence["window"].start[:10] for d in windows] == [
        "2011-03-07", "2011-03-14", "2011-03-21"
    ]  # fmt: skip
    empty = windows[1]
    assert empty.action == "not_enough_data" and "0 rows" in empty.reason
    assert empty.evidence["window"].rows == 0
    assert load_state(ws, MODEL).next_window == "2011-03-28T00:00:00"


def test_a_vanished_feature_and_constant_columns_are_reported_not_fatal(ws: Workspace) -> None:
    rows = _march(1).drop(columns=["temp"]).assign(hum=0.5, windspeed=0.0)
    _serve(ws, rows, "week1")
    decisions = Controller(ws, ws.config).tick(datetime(2011, 3, 15)).decisions
    check = next(d for d in decisions if d.action == "retrain")
    assert "features missing: temp" in check.reason
    assert check.evidence["window"].missing == ("temp",)
    assert decisions[-1].action == "not_enough_data"  # no labeled rows before the window
    assert "error" not in _actions(ws)


def test_windows_wait_for_labels_until_the_delay(ws: Workspace) -> None:
    _serve(ws, _march(1), "week1", label=False)
    controller = Controller(ws, ws.config)
    assert [d.action for d in controller.tick(datetime(2011, 3, 14, 12)).decisions] == ["adopted"]
    late = controller.tick(datetime(2011, 3, 15, 1)).decisions  # the 1-day label delay is over
    assert [d.action for d in late] == ["not_enough_data"]
    assert "0 labeled rows" in late[0].reason


def test_labels_for_unknown_ids_are_counted(ws: Workspace) -> None:
    ids = _serve(ws, _march(1).head(3), "req", label=False)
    added = add_labels(ws, [ids[0], "nope-1", "req"], [1, 2, 3])
    assert (added.matched, added.unknown, added.unknown_examples) == (1, 2, ("nope-1", "req"))
    single = _serve(ws, _march(1).head(1), "one", label=False)
    assert single == ["one-0"] and add_labels(ws, ["one"], [5]).matched == 1


def test_a_restart_mid_retrain_fails_the_dead_run_and_retrains(ws: Workspace) -> None:
    rows = _march(2)
    _serve(ws, rows, "weeks")
    controller = Controller(ws, ws.config)
    controller.tick(datetime(2011, 3, 8))  # adopts v1, nothing to check yet
    state = load_state(ws, MODEL)
    state.phase, state.job = (
        "retraining",
        {"start": "2011-03-14T00:00:00", "end": "2011-03-21T00:00:00"},
    )
    state.next_window = "2011-03-21T00:00:00"
    commit(ws, MODEL, state, None)
    dead = start_run(ws, experiment="bike-demand", name="retrain 2011-03-14")  # killed mid-fit
    controller.close()

    after = Controller(ws, ws.config).tick(datetime(2011, 3, 22))
    actions = [d.action for d in after.decisions]
    assert actions[:2] == ["resumed", "retrained"] and actions[2] in ("promoted", "rejected")
    assert after.decisions[0].evidence["failed_runs"] == [dead.id]
    assert get_run(ws, dead.id).status == FAILED
    assert load_state(ws, MODEL).phase in ("idle", "watching")


def test_only_the_lease_holder_acts(ws: Workspace) -> None:
    _serve(ws, _march(1), "week1")
    clock = [1000.0]
    first = Controller(ws, ws.config, wall=lambda: clock[0])
    second = Controller(ws, ws.config, wall=lambda: clock[0])
    assert first.tick(datetime(2011, 3, 8)).leased
    blocked = second.tick(datetime(2011, 3, 15))
    assert not blocked.leased and blocked.decisions == ()
    clock[0] += ws.config.loop.policy.lease_seconds + 1  # type: ignore[union-attr]
    assert second.tick(datetime(2011, 3, 15)).leased
    assert _actions(ws).count("adopted") == 1
    assert alias_version(ws, MODEL, "production") >= 1
    assert isinstance(load_state(ws, MODEL), LoopState)
