"""AutoML search, the initial model and retrained candidates on a slice of the bike data."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from tests.conftest import bike_config

from mlcycle.data import BIKE_SHARING_CSV, DatasetVersion, snapshot
from mlcycle.models import MODEL_YAML, fetch_package, load_package
from mlcycle.pipeline import (
    evaluate,
    features_and_target,
    fit,
    in_time_order,
    primary_metric,
    search,
    split_tail,
    train_candidate,
    train_initial_model,
)
from mlcycle.pipeline._automl import study_name
from mlcycle.pipeline._executor import LocalExecutor
from mlcycle.registry import alias_version, audit_log, list_model_versions
from mlcycle.store import Workspace
from mlcycle.tracking import FAILED, FINISHED, get_run, list_runs, start_run

# linear only keeps the search fast; hgb pipelines are covered in test_estimators.py
CONFIG = bike_config(automl={"trials": 2, "families": ["linear"]})


@pytest.fixture(scope="module")
def slice_2011(bike: pd.DataFrame) -> pd.DataFrame:
    """The first 1,200 hourly rows of 2011 (about 50 days), in time order."""
    return in_time_order(bike[bike["yr"] == 0], "dteday").iloc[:1200]


@pytest.fixture
def dataset(workspace: Workspace) -> DatasetVersion:
    return snapshot(workspace, BIKE_SHARING_CSV, name="bike")


def test_search_tracks_trials_as_child_runs(workspace: Workspace, slice_2011: pd.DataFrame) -> None:
    data = features_and_target(slice_2011, CONFIG.require_data())
    progress: list[tuple[int, int, str]] = []
    with start_run(workspace, experiment=CONFIG.experiment, name="automl") as parent:
        result = search(
            workspace, CONFIG, data, parent, on_trial=lambda d, t, f, v: progress.append((d, t, f))
        )
    trials = list_runs(workspace, parent_id=parent.id)
    assert len(trials) == 2
    assert {t.name for t in trials} == {"trial-0", "trial-1"}
    for trial in trials:
        assert trial.status == FINISHED
        assert trial.tags == {"mlcycle.kind": "trial"}
        assert trial.params.keys() == {"family", "alpha"}
        assert trial.params["family"] == "linear"
        assert 1e-3 <= float(trial.params["alpha"]) <= 1e2
        assert set(trial.metrics) == {"val_mae", "val_rmse"}
        assert trial.metrics["val_mae"] > 0
    assert [(d, t) for d, t, _ in progress] == [(1, 2), (2, 2)]
    best = get_run(workspace, result.extra["best_trial_run"])
    assert best.parent_id == parent.id
    assert result.validation == {"val_mae": min(t.metrics["val_mae"] for t in trials)}
    assert best.params["family"] == result.family
    assert set(result.holdout) == {"mae", "rmse"}
    assert result.trials == 2
    assert result.train_rows == round(1200 * (1 - CONFIG.automl.holdout_fraction))
    assert primary_metric(CONFIG) == "mae"


def test_initial_model_and_candidate(
    workspace: Workspace, slice_2011: pd.DataFrame, dataset: DatasetVersion
) -> None:
    initial = train_initial_model(
        workspace, CONFIG, slice_2011.sample(frac=1.0, random_state=0), dataset
    )
    assert initial.version.version == 1
    assert alias_version(workspace, "bike-demand", "production") == 1
    run = get_run(workspace, initial.version.run_id or "")
    assert run.datasets == ["bike@v1"]
    assert run.tags == {"mlcycle.kind": "automl"}
    assert set(initial.version.metrics) == {"mae", "rmse"}
    assert initial.version.metrics == {k: run.metrics[k] for k in ("mae", "rmse")}
    assert run.artifacts["model"] == initial.version.package_id
    event = audit_log(workspace, "bike-demand")[0]
    assert (event.alias, event.to_version, event.evidence["run_id"]) == ("production", 1, run.id)

    folder = fetch_package(
        workspace.objects, initial.version.package_id, workspace.state_dir / "packages"
    )
    meta = yaml.safe_load((folder / MODEL_YAML).read_text())
    assert meta["lineage"]["datasets"] == ["bike@v1"]
    assert meta["lineage"]["run_id"] == run.id
    assert meta["lineage"]["train_rows"] == 1200
    assert initial.result is not None
    assert meta["params"] == {"family": "linear", "alpha": initial.result.params["alpha"]}
    loaded = load_package(folder)
    assert loaded.meta.signature.input_names == list(CONFIG.require_data().features)
    rows = slice_2011.iloc[:50]
    np.testing.assert_allclose(
        loaded.predict(rows),
        initial.model.predict(features_and_target(rows, CONFIG.require_data()).X),
    )

    data = features_and_target(slice_2011, CONFIG.require_data())
    train, holdout = data, features_and_target(slice_2011.iloc[-200:], CONFIG.require_data())
    candidate = train_candidate(
        workspace, CONFIG, train, "linear", {"alpha": 2.0},
        datasets=[dataset], window="2011-02", evaluate_on=holdout,
    )  # fmt: skip
    assert candidate.version.version == 2
    assert alias_version(workspace, "bike-demand", "production") == 1  # the alias did not move
    expected = {f"gate_{k}": v for k, v in evaluate(candidate.model, holdout, CONFIG).items()}
    assert candidate.version.metrics == pytest.approx(expected)
    assert set(expected) == {"gate_mae", "gate_rmse"}
    retrain = get_run(workspace, candidate.version.run_id or "")
    assert retrain.name == "retrain 2011-02"
    assert retrain.metrics == pytest.approx(expected)
    assert retrain.params["family"] == "linear" and retrain.params["alpha"] == "2.0"
    assert retrain.params["window"] == "2011-02" and retrain.params["train_rows"] == "1200"
    assert retrain.datasets == ["bike@v1"]
    assert [v.version for v in list_model_versions(workspace, "bike-demand")] == [2, 1]
    cand_meta = load_package(
        fetch_package(
            workspace.objects, candidate.version.package_id, workspace.state_dir / "packages"
        )
    ).meta
    assert cand_meta.lineage["train_window"] == "2011-02"
    assert cand_meta.lineage["run_id"] == retrain.id
    assert dict(cand_meta.metrics) == pytest.approx(expected)


class _FailSecond:
    """An executor on two threads whose second task raises (a trial failing on its
    worker). Threads, so `_boom` need not be importable by a worker process: under
    pytest's importlib mode the test module is not."""

    name = "threads"

    def __init__(self) -> None:
        self.inner, self.count = ThreadPoolExecutor(2), 0

    def submit(self, fn: Any, *args: Any, **kwargs: Any) -> Future[Any]:
        self.count += 1
        return self.inner.submit(fn if self.count != 2 else _boom, *args)

    def shutdown(self) -> None:
        self.inner.shutdown()


def _boom(task: object) -> None:
    raise ValueError("trial blew up")


def _stored_trials(url: str, name: str) -> list[Any]:
    import optuna

    storage = optuna.storages.RDBStorage(url)
    try:
        return optuna.load_study(study_name=name, storage=storage).trials
    finally:
        storage.engine.dispose()


def test_parallel_search_stores_the_study_in_the_workspace_db(
    any_workspace: Workspace, slice_2011: pd.DataFrame
) -> None:
    ws, config = any_workspace, bike_config(automl={"trials": 3, "families": ["linear"]})
    data = features_and_target(slice_2011, config.require_data())
    progress: list[tuple[int, int]] = []
    executor = LocalExecutor(2)
    try:
        with start_run(ws, experiment=config.experiment, name="automl") as parent:
            result = search(
                ws, config, data, parent, lambda d, t, f, v: progress.append((d, t)),
                executor=executor, parallelism=2,
            )  # fmt: skip
    finally:
        executor.shutdown()
    runs = {r.id: r for r in list_runs(ws, parent_id=parent.id)}
    assert sorted(r.name for r in runs.values()) == ["trial-0", "trial-1", "trial-2"]
    assert all(r.status == FINISHED and r.tags == {"mlcycle.kind": "trial"} for r in runs.values())
    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert result.extra["study"] == study_name(parent.id)
    stored = _stored_trials(ws.db.url, result.extra["study"])
    assert [t.state.name for t in stored] == ["COMPLETE"] * 3
    for trial in stored:  # each trial's value is what its run logged
        assert trial.value == runs[trial.user_attrs["run_id"]].metrics["val_mae"]
    assert result.validation == {"val_mae": min(t.value for t in stored)}
    # the worker fitted on the same rows the sequential search would have
    rows, _ = split_tail(data, config.automl.holdout_fraction)
    train, valid = split_tail(rows, config.automl.validation_fraction)
    refit = evaluate(fit(result.family, result.params, train, config), valid, config)
    assert refit["mae"] == pytest.approx(result.validation["val_mae"], rel=1e-9)
    # Optuna's Alembic table and mlcycle's live side by side; the workspace reopens fine
    assert {"alembic_version", "mlcycle_alembic_version", "studies", "runs"} <= set(
        ws.db.table_names()
    )
    with Workspace(ws.root, ws.config) as again:
        assert len(list_runs(again, parent_id=parent.id)) == 3


def test_failed_parallel_trial_fails_its_run_and_the_search(
    workspace: Workspace, slice_2011: pd.DataFrame
) -> None:
    config = bike_config(automl={"trials": 3, "families": ["linear"]})
    data = features_and_target(slice_2011, config.require_data())
    executor = _FailSecond()
    try:
        with (
            start_run(workspace, experiment=config.experiment, name="automl") as parent,
            pytest.raises(ValueError, match="trial blew up"),
        ):
            search(workspace, config, data, parent, executor=executor, parallelism=2)
    finally:
        executor.shutdown()
    states = {r.name: r.status for r in list_runs(workspace, parent_id=parent.id)}
    assert states["trial-1"] == FAILED
    stored = _stored_trials(workspace.db.url, study_name(parent.id))
    assert stored[1].state.name == "FAIL"
    assert all(t.state.name in ("COMPLETE", "FAIL") for t in stored)  # none left running
