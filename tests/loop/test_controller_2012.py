"""The loop controller drives all of 2012 of the bike sharing data in accelerated time.

Each simulated week the production model serves that week's rows (in
process, logged as the server logs them), the labels of the week before
arrive, and the controller ticks. In October a model trained on shuffled
targets is promoted by hand; the controller must roll it back.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import bike_config
from threadpoolctl import threadpool_limits

from mlcycle.data import BIKE_SHARING_CSV, snapshot
from mlcycle.loop import Controller, add_labels, loop_history
from mlcycle.loop._actions import Models
from mlcycle.pipeline import features_and_target, train_candidate, train_initial_model
from mlcycle.registry import alias_version, set_alias
from mlcycle.serving import log_predictions
from mlcycle.store import Workspace

MODEL = "bike-demand"
POLICY = {
    "schedule": "0 0 * * *",
    "window": {"size": "MS", "label_delay": "7D"},
    "monitors": {"drift_share": 0.3, "metric_factor": 1.2, "consecutive": 2, "min_rows": 50},
    "retrain": {"last_weeks": 8},
    "gate": {"margin": 0.02},
    "rollback": {"worse_by": 0.05},
}
WEEK = pd.Timedelta(days=7)
BAD_WEEK = pd.Timestamp("2012-09-30")


def _bad_model(ws: Workspace, config: object, train: pd.DataFrame, params: dict) -> int:  # type: ignore[type-arg]
    data = config.require_data()  # type: ignore[attr-defined]
    xy = features_and_target(train, data)
    shuffled = xy.y.sample(frac=1.0, random_state=0).reset_index(drop=True)
    xy_bad = type(xy)(xy.X, shuffled)
    bad = train_candidate(
        ws,
        config,
        xy_bad,
        "hgb",
        params,
        datasets=[],
        window="shuffled",
        evaluate_on=xy,  # type: ignore[arg-type]
    )
    return bad.version.version


def _serve(ws: Workspace, models: Models, rows: pd.DataFrame, week: pd.Timestamp) -> list[str]:
    version = alias_version(ws, MODEL, "production")
    inputs = rows.drop(columns=["cnt", "casual", "registered"])
    preds = models.get(version).predict(inputs)
    return log_predictions(ws, f"req-{week.date()}", MODEL, version, inputs, list(preds))


@pytest.mark.slow
def test_a_year_of_decisions_with_a_rollback(tmp_path: Path) -> None:
    with threadpool_limits(limits=1):  # OpenMP threads thrash on a busy 2-core machine
        _a_year(tmp_path)


def _a_year(tmp_path: Path) -> None:
    config = bike_config(loop={"policy": POLICY}, automl={"trials": 2, "families": ["hgb"]})
    ws = Workspace(tmp_path / "ws", config)
    bike = pd.read_csv(BIKE_SHARING_CSV)
    days = pd.to_datetime(bike["dteday"])
    trained = train_initial_model(
        ws, config, bike[days.dt.year == 2011], snapshot(ws, BIKE_SHARING_CSV)
    )
    assert trained.result is not None
    controller, models = Controller(ws, config), Models(ws, MODEL)
    served: dict[pd.Timestamp, tuple[list[str], list[int]]] = {}
    bad = None
    for week in pd.date_range("2012-01-01", "2013-01-06", freq="7D"):
        rows = bike[(days >= week) & (days < week + WEEK)]
        if len(rows):
            served[week] = (_serve(ws, models, rows, week), rows["cnt"].tolist())
        late = served.pop(week - WEEK, None)  # ground truth comes a week late
        if late:
            assert add_labels(ws, *late).unknown == 0
        if week == BAD_WEEK:
            bad = _bad_model(ws, config, bike[days.dt.year == 2011], dict(trained.result.params))
            set_alias(ws, MODEL, "production", bad, reason="by hand (test)", actor="tester")
        controller.tick((week + WEEK).to_pydatetime())

    history = list(reversed(loop_history(ws, MODEL, limit=500)))
    actions = [d.action for d in history]
    print(Counter(actions), *[(d.action, d.window, d.reason) for d in history], sep="\n")
    assert actions[0] == "adopted" and "error" not in actions
    monthly = ("checked", "kept", "rollback", "not_enough_data", "retrain")
    assert sum(a in monthly for a in actions) == 12  # each month of 2012 was checked once
    for i, action in enumerate(actions):
        if action == "retrain":
            assert actions[i + 1] == "retrained" and actions[i + 2] in ("promoted", "rejected")
    assert actions.count("promoted") >= 1
    seen = actions.index("promotion_seen")
    after = [d for d in history[seen + 1 :] if d.action in ("rollback", "kept")]
    assert after[0].action == "rollback" and after[0].from_version == bad
    assert alias_version(ws, MODEL, "production") != bad
    assert np.isfinite(after[0].evidence["promoted"])
    ws.close()
