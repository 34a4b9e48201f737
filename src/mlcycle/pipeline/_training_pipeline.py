"""The built-in training pipeline of the loop: ingest -> validate -> features ->
train (AutoML) -> evaluate -> register.

Each step is a cached, tracked step like a user's (see :mod:`mlcycle.pipeline._step`),
so a second `mlcycle loop` on unchanged data and config skips the search, and
`mlcycle lineage MODEL@production` walks from the model version through
these steps' runs to the dataset version. Steps take the config sections
they use as params (plain dicts): a change to any of them changes the
step's cache key, and a worker process (or Ray node) needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mlcycle.core import Config, DataConfig, ModelNotFound, PipelineError, hash_file
from mlcycle.pipeline._context import current_run
from mlcycle.pipeline._executor import Executor
from mlcycle.pipeline._load import dag_of
from mlcycle.pipeline._register import Trained
from mlcycle.pipeline._runner import Observer, run_pipeline
from mlcycle.pipeline._step import pipeline, step
from mlcycle.pipeline._training import TrainResult
from mlcycle.pipeline._values import load_value
from mlcycle.store import Workspace


def _config(**sections: Any) -> Config:
    return Config.model_validate({k: v for k, v in sections.items() if v is not None})


def dataset_name(ws: Workspace, file: Path) -> str:
    """The name the ingest step gives the dataset of `file`: inside the workspace its
    relative POSIX path, as `mlcycle data add` names it; outside, the file's stem."""
    full = file.resolve()
    return full.relative_to(ws.root).as_posix() if full.is_relative_to(ws.root) else file.stem


@step
def ingest(path: str, content_id: str) -> pd.DataFrame:
    """Read the data file and record it as a dataset version, an input of this run.

    `content_id` is the file's BLAKE3 id: the step (and all after it) reruns
    when the bytes change, and only then.
    """
    from mlcycle.data import read_table, snapshot

    run = current_run()
    file = Path(path)
    frame = read_table(file)
    dataset = snapshot(run.ws, file, dataset_name(run.ws, file), frame=frame)
    run.log_input(dataset)
    run.log_params({"dataset": dataset.ref, "rows": len(frame)})
    return frame


@step
def validate(raw: pd.DataFrame, data: dict[str, Any]) -> pd.DataFrame:
    """Check the roles of the columns (types, target) and the declared expectations.

    Raises:
        DataError: naming the first column that fails a check.
        ExpectationsFailed: naming the column, the check and the offending rows.
    """
    from mlcycle.data import check_expectations
    from mlcycle.data import validate as validate_frame

    config = DataConfig.model_validate(data)
    report = validate_frame(raw, config)
    report.raise_for_errors(config.path)
    check_expectations(raw, config.expectations, config.path)
    current_run().log_metrics({"warnings": float(len(report.warnings))})
    return raw


@step
def features(checked: pd.DataFrame, data: dict[str, Any], split: dict[str, Any]) -> pd.DataFrame:
    """The training period's rows (in time order) with the features and the target."""
    from mlcycle.pipeline._splits import split_training_period

    config = _config(data=data, split=split)
    train_rows, _ = split_training_period(checked, config)
    spec = config.require_data()
    columns = [*spec.features, spec.target, *([spec.time_column] if spec.time_column else [])]
    current_run().log_params({"train_rows": len(train_rows)})
    return train_rows[columns]


@step
def train(rows: pd.DataFrame, data: dict[str, Any], automl: dict[str, Any]) -> dict[str, Any]:
    """AutoML (Optuna TPE over the model families); each trial is a child run.

    Returns:
        `model` (the best configuration refit on the search rows), `family`,
        `params` and `validation` (its validation score).
    """
    from mlcycle.pipeline._automl import search
    from mlcycle.pipeline._training import features_and_target

    config = _config(data=data, automl=automl)
    run = current_run()
    result = search(run.ws, config, features_and_target(rows, config.require_data()), run)
    run.log_params(
        {"best_family": result.family, **{f"best_{k}": v for k, v in result.params.items()}}
    )
    run.log_metrics(result.validation)
    return {
        "model": result.model,
        "family": result.family,
        "params": dict(result.params),
        "validation": dict(result.validation),
    }


@step
def evaluate(
    trained: dict[str, Any], rows: pd.DataFrame, data: dict[str, Any], automl: dict[str, Any]
) -> dict[str, float]:
    """Score the model on the held-out tail of the training period, which no trial saw."""
    from mlcycle.pipeline._training import evaluate as score
    from mlcycle.pipeline._training import features_and_target, split_tail

    config = _config(data=data, automl=automl)
    xy = features_and_target(rows, config.require_data())
    _, holdout = split_tail(xy, config.automl.holdout_fraction)
    metrics = score(trained["model"], holdout, config)
    current_run().log_metrics(metrics)
    return metrics


@step
def register(
    trained: dict[str, Any],
    holdout: dict[str, float],
    rows: pd.DataFrame,
    data: dict[str, Any],
    model_name: str,
    alias: str,
    path: str,
    content_id: str,
) -> dict[str, Any]:
    """Package the model (skops, signature, lineage), register a version, point `alias` at it.

    Returns:
        `model_name`, `version`, and the `family`, `params`, `validation` and
        `holdout` scores the loop needs.
    """
    from mlcycle.pipeline._register import _package
    from mlcycle.pipeline._training import features_and_target
    from mlcycle.registry import register_model_version, set_alias

    config = _config(data=data, model_name=model_name)
    run = current_run()
    xy = features_and_target(rows, config.require_data())
    params = {"family": trained["family"], **trained["params"]}
    lineage = {
        "datasets": _dataset_refs(run.ws, path, content_id),
        "train_rows": len(xy),
        "train_window": "training period",
        "git_commit": run.git_commit,
    }
    package_id = _package(run, trained["model"], xy, config, holdout, params, lineage)
    version = register_model_version(run.ws, model_name, package_id, run_id=run.id, metrics=holdout)
    set_alias(run.ws, model_name, alias, version.version, reason="trained by the training pipeline",
              evidence={"holdout": holdout, "run_id": run.id})  # fmt: skip
    return {
        "model_name": model_name,
        "version": version.version,
        "family": trained["family"],
        "params": trained["params"],
        "validation": trained["validation"],
        "holdout": holdout,
    }


def _dataset_refs(ws: Workspace, path: str, content_id: str) -> list[str]:
    """The dataset version(s) the ingest step recorded for these bytes."""
    from mlcycle.data import list_dataset_versions

    name = dataset_name(ws, Path(path))
    return [v.ref for v in list_dataset_versions(ws, name) if v.object_id == content_id]


@pipeline(name="training")
def training(
    path: str = "",
    content_id: str = "",
    data: dict[str, Any] | None = None,
    split: dict[str, Any] | None = None,
    automl: dict[str, Any] | None = None,
    model_name: str = "model",
    alias: str = "production",
) -> None:
    """The loop's training: see the module docstring."""
    rows = features(validate(ingest(path, content_id), data), data, split)
    trained = train(rows, data, automl)
    holdout = evaluate(trained, rows, data, automl)
    register(trained, holdout, rows, data, model_name, alias, path, content_id)


@dataclass(frozen=True)
class TrainingParams:
    """The params of :data:`training` for a workspace, from its config and data file."""

    values: dict[str, Any]

    @classmethod
    def of(cls, ws: Workspace, config: Config, path: Path) -> TrainingParams:
        """Read the sections the steps use from `config`; hash the data file at `path`."""
        return cls(
            {
                # relative inside the workspace, so moving the workspace keeps the cache
                "path": dataset_name(ws, path)
                if path.resolve().is_relative_to(ws.root)
                else str(path.resolve()),
                "content_id": hash_file(path),
                "data": config.require_data().model_dump(mode="json"),
                "split": config.split.model_dump(mode="json"),
                "automl": config.automl.model_dump(mode="json"),
                "model_name": config.model_name,
                "alias": "production",
            }
        )


def run_training(
    ws: Workspace,
    config: Config,
    path: Path,
    *,
    executor: Executor | None = None,
    observer: Observer | None = None,
) -> Trained:
    """Run the training pipeline on the data file at `path`; return the registered model.

    Steps whose code, params and inputs are unchanged are restored from the
    cache. Afterwards `production` points at the pipeline's model version,
    even if the loop had promoted another one since that version was made.

    Raises:
        StepFailed: naming the step that failed (e.g. expectations not met).
        DataError, ConfigError: for unusable data or config.
    """
    from mlcycle.registry import alias_version, get_model_version, set_alias

    params = TrainingParams.of(ws, config, path).values
    dag = dag_of(training, ws.root, params)
    result = run_pipeline(
        ws,
        dag,
        name="training",
        params={k: params[k] for k in ("path", "content_id")},
        executor=executor,
        observer=observer,
    )
    out = {s.name: _output(ws, s.key) for s in result.steps if s.name in ("train", "register")}
    reg, best = out["register"], out["train"]
    version = get_model_version(ws, reg["model_name"], reg["version"])
    try:
        current = alias_version(ws, version.model_name, "production")
    except ModelNotFound:
        current = None
    if current != version.version:
        set_alias(ws, version.model_name, "production", version.version,
                  reason="the loop starts from the training pipeline's model",
                  evidence={"pipeline_run": result.run_id})  # fmt: skip
    train_result = TrainResult(
        best["model"], best["family"], best["params"], best["validation"], reg["holdout"],
        config.automl.trials, 0,
    )  # fmt: skip
    return Trained(version, best["model"], train_result)


def _output(ws: Workspace, key: str | None) -> Any:
    from mlcycle.pipeline._cache import read_entry

    entry = read_entry(ws.state_dir, key) if key else None
    if entry is None:
        raise PipelineError(f"the training pipeline left no cached output for key {key}")
    return load_value(ws, entry["outputs"]["return"])
