"""Runs: status, environment, params, metrics, tags, artifacts, inputs and queries."""

from __future__ import annotations

import math
import platform
from pathlib import Path

import pandas as pd
import pytest

from mlcycle.core import InputError, RunNotFound
from mlcycle.data import snapshot
from mlcycle.store import Workspace
from mlcycle.store.schema import RunRow
from mlcycle.tracking import (
    FAILED,
    FINISHED,
    RUNNING,
    MetricPoint,
    get_run,
    git_commit,
    list_runs,
    metric_history,
    start_run,
)


def test_core_round_trip(any_workspace: Workspace) -> None:
    ws = any_workspace
    with start_run(ws, experiment="exp", name="first", tags={"team": "a"}) as run:
        assert get_run(ws, run.id).status == RUNNING
        run.log_params({"alpha": 0.5, "family": "linear"})
        run.log_metric("mae", 3.0, step=0)
        run.log_metric("mae", 2.0, step=1)
        run.log_metrics({"rmse": 4.0, "r2": 0.5}, step=1)
        run.set_tag("team", "b")
    record = get_run(ws, run.id)
    assert record.status == FINISHED
    assert record.experiment == "exp"
    assert record.name == "first"
    assert record.end_time is not None and record.duration is not None and record.duration >= 0
    assert record.params == {"alpha": "0.5", "family": "linear"}
    assert record.metrics == {"mae": 2.0, "rmse": 4.0, "r2": 0.5}
    assert record.tags == {"team": "b"}
    assert record.git_commit is None  # the temp workspace is not in a git checkout
    assert record.environment["python"] == platform.python_version()
    assert "scikit-learn" in record.environment
    assert [(p.step, p.value) for p in metric_history(ws, run.id, "mae")] == [(0, 3.0), (1, 2.0)]
    assert record.to_dict()["duration"] == record.duration


def test_exception_marks_run_failed(workspace: Workspace) -> None:
    with pytest.raises(RuntimeError, match="boom"), start_run(workspace) as run:
        run.log_metric("loss", 1.0)
        raise RuntimeError("boom")
    record = get_run(workspace, run.id)
    assert record.status == FAILED
    assert record.metrics == {"loss": 1.0}  # what was logged before the crash is kept


def test_git_commit_inside_and_outside_git(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None
    here = git_commit(Path(__file__).parent)
    assert here is None or len(here) == 40


def test_params_are_immutable(workspace: Workspace) -> None:
    with start_run(workspace) as run:
        run.log_param("alpha", 0.5)
        run.log_param("alpha", 0.5)  # the same value again is fine
        with pytest.raises(
            InputError, match=r"Param 'alpha' .* was logged as '0\.5'; cannot change it to '0\.7'"
        ):
            run.log_params({"beta": 1, "alpha": 0.7})
    assert get_run(workspace, run.id).params == {"alpha": "0.5"}


def test_metric_history_orders_by_step(workspace: Workspace) -> None:
    with start_run(workspace) as run:
        for step, value in [(2, 0.2), (0, 1.0), (1, 0.5)]:
            run.log_metric("loss", value, step=step)
    history = metric_history(workspace, run.id, "loss")
    assert get_run(workspace, run.id).metrics == {"loss": 0.2}  # the value at the highest step
    assert [(p.step, p.value) for p in history] == [(0, 1.0), (1, 0.5), (2, 0.2)]
    assert all(isinstance(p, MetricPoint) and p.timestamp > 0 for p in history)
    assert metric_history(workspace, run.id, "other") == []


def test_non_finite_metrics_are_stored_as_such(any_workspace: Workspace) -> None:
    ws = any_workspace
    with start_run(ws) as run:
        run.log_metric("loss", float("nan"), step=0)
        run.log_metric("loss", float("inf"), step=1)
        run.log_metric("loss", float("-inf"), step=2)
        run.log_metric("last_nan", 1.0, step=0)
        run.log_metric("last_nan", float("nan"), step=1)
    values = [p.value for p in metric_history(ws, run.id, "loss")]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf]
    latest = get_run(ws, run.id).metrics
    assert latest["loss"] == -math.inf and math.isnan(latest["last_nan"])


def test_metric_that_is_not_a_number_is_refused(workspace: Workspace) -> None:
    with start_run(workspace) as run:
        with pytest.raises(InputError, match="Metric 'mae' must be a number; got 'abc'"):
            run.log_metric("mae", "abc")  # type: ignore[arg-type]
        run.log_metric("rmse", 1.0)
    assert get_run(workspace, run.id).metrics == {"rmse": 1.0}


def test_artifact_bytes_are_retrievable(any_workspace: Workspace, tmp_path: Path) -> None:
    file = tmp_path / "notes.txt"
    file.write_bytes(b"feature importances\n")
    with start_run(any_workspace) as run:
        oid = run.log_artifact(file)
        run.log_artifact(file, name="copy.txt")
    record = get_run(any_workspace, run.id)
    assert record.artifacts == {"notes.txt": oid, "copy.txt": oid}
    assert any_workspace.objects.get_bytes(oid) == b"feature importances\n"


def test_log_input_shows_lineage(any_workspace: Workspace, tmp_path: Path) -> None:
    csv = tmp_path / "rides.csv"
    pd.DataFrame({"x": [1, 2, 3], "y": [2.0, 4.0, 6.0]}).to_csv(csv, index=False)
    dataset = snapshot(any_workspace, csv)
    with start_run(any_workspace) as run:
        run.log_input(dataset)
        run.log_input(dataset)  # idempotent
    assert get_run(any_workspace, run.id).datasets == ["rides@v1"]


def test_get_run_by_prefix_and_not_found(any_workspace: Workspace) -> None:
    with start_run(any_workspace) as run:
        pass
    assert get_run(any_workspace, run.id[:8]).id == run.id
    with pytest.raises(RunNotFound, match="Run 'nope' does not exist"):
        get_run(any_workspace, "nope")
    with pytest.raises(RunNotFound, match="does not exist"):
        get_run(any_workspace, run.id[:5])  # prefixes shorter than 6 characters do not match


def test_ambiguous_prefix(workspace: Workspace) -> None:
    with start_run(workspace) as run:
        pass
    twin = run.id[:6] + ("0" if run.id[6] != "0" else "1") + run.id[7:]
    with workspace.db.session() as s:  # a second run whose id shares the first 6 characters
        original = s.get(RunRow, run.id)
        assert original is not None
        s.add(RunRow(
            id=twin, experiment_id=original.experiment_id, parent_id=None, name="twin",
            status=FINISHED, start_time=original.start_time, end_time=original.end_time,
            git_commit=None, environment={},
        ))  # fmt: skip
    with pytest.raises(RunNotFound, match="matches more than one run"):
        get_run(workspace, run.id[:6])
    assert get_run(workspace, run.id[:7]).id == run.id
    assert get_run(workspace, twin).name == "twin"


def test_list_runs_filters_by_experiment_and_parent(any_workspace: Workspace) -> None:
    ws = any_workspace
    with start_run(ws, experiment="a", name="parent") as parent:
        for i in range(2):
            with start_run(ws, experiment="a", name=f"child-{i}", parent_id=parent.id):
                pass
    with start_run(ws, experiment="b", name="other"):
        pass
    assert {r.name for r in list_runs(ws, experiment="a")} == {"parent", "child-0", "child-1"}
    assert [r.name for r in list_runs(ws, experiment="b")] == ["other"]
    children = list_runs(ws, parent_id=parent.id)
    assert {r.name for r in children} == {"child-0", "child-1"}
    assert all(r.parent_id == parent.id for r in children)
    assert len(list_runs(ws)) == 4
    assert len(list_runs(ws, limit=2)) == 2
    assert list_runs(ws, experiment="missing") == []
