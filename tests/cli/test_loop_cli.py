"""`mlcycle labels add`, `loop run --once` and `loop history` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.conftest import bike_config

from mlcycle.core import dump_config
from mlcycle.data import BIKE_SHARING_CSV, snapshot
from mlcycle.pipeline import train_initial_model
from mlcycle.serving import log_predictions
from mlcycle.store import Workspace

POLICY = {"schedule": "0 0 * * *", "window": {"size": "7D"}, "monitors": {"min_rows": 20}}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with a policy, a production model and one logged week of March 2011."""
    folder = tmp_path_factory.mktemp("loopcli") / "ws"
    config = bike_config(
        loop={"policy": POLICY}, split={"train_end": "2011-03-01"},
        automl={"trials": 1, "families": ["linear"]},
    )  # fmt: skip
    bike = pd.read_csv(BIKE_SHARING_CSV)
    with Workspace(folder, config) as ws:
        train_initial_model(
            ws, config, bike[bike["dteday"] < "2011-03-01"], snapshot(ws, BIKE_SHARING_CSV)
        )
        week = bike[(bike["dteday"] >= "2011-03-07") & (bike["dteday"] < "2011-03-14")]
        ids = log_predictions(
            ws, "r", "bike-demand", 1, week.drop(columns=["cnt"]), [90.0] * len(week)
        )
    (folder / "mlcycle.yaml").write_text(dump_config(config))
    pd.DataFrame({"request_id": ids, "cnt": week["cnt"]}).to_csv(folder / "labels.csv", index=False)
    return folder


def test_labels_add_joins_and_counts_unknown_ids(cli: Any, root: Path) -> None:
    frame = pd.read_csv(root / "labels.csv")
    pd.concat([frame, pd.DataFrame({"request_id": ["ghost-0"], "cnt": [1]})]).to_csv(
        root / "some.csv", index=False
    )
    done = cli(root, "labels", "add", str(root / "some.csv"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["matched"] == len(frame)
    assert json.loads(done.stdout)["unknown_examples"] == ["ghost-0"]


def test_labels_add_with_only_unknown_ids_exits_2(cli: Any, root: Path) -> None:
    pd.DataFrame({"id": ["x-0", "y-0"], "cnt": [1, 2]}).to_csv(root / "bad.csv", index=False)
    done = cli(root, "labels", "add", str(root / "bad.csv"), "--id-column", "id")
    assert done.returncode == 2 and "none of the 2 ids" in done.stderr
    missing = cli(root, "labels", "add", str(root / "bad.csv"))
    assert missing.returncode == 2 and "'request_id' (--id-column)" in missing.stderr


def test_loop_run_once_then_history(cli: Any, root: Path) -> None:
    done = cli(root, "loop", "run", "--once")
    assert done.returncode == 0, done.stderr
    history = cli(root, "loop", "history", "--json")
    actions = [d["action"] for d in json.loads(history.stdout)]
    assert actions[-1] == "adopted" and len(actions) >= 2  # then the week of March 7 was checked
    table = cli(root, "loop", "history", "--model", "bike-demand")
    assert "adopted" in table.stdout and "Loop decisions" in table.stdout


def test_a_policy_typo_exits_2_naming_the_key(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "mlcycle.yaml").write_text("loop:\n  policy:\n    schedul: '0 * * * *'\n")
    done = cli(tmp_path, "loop", "run", "--once")
    assert done.returncode == 2
    assert "loop.policy.schedul" in done.stderr and "did you mean 'schedule'" in done.stderr


def test_the_server_runs_the_controller_unless_told_not_to(root: Path) -> None:
    for flag, expected in (("--loop", True), ("--no-loop", False)):
        cmd = [sys.executable, "-m", "mlcycle", "-w", str(root), "server", "--port", "0", flag]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert proc.stdout is not None
            # "Database: ...", "mlcycle server on ...", then the controller's line
            lines = [proc.stdout.readline() for _ in range(2 + expected)]
            assert "mlcycle server on" in "".join(lines), lines
            assert ("loop controller on bike-demand (0 0 * * *)" in "".join(lines)) is expected
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            if proc.stdout is not None:
                proc.stdout.close()
