"""Training runs that end in the registry: the first model and retrained candidates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mlcycle.core import Config
from mlcycle.data import DatasetVersion
from mlcycle.models import ModelMeta, Signature
from mlcycle.pipeline._automl import search
from mlcycle.pipeline._estimators import Family
from mlcycle.pipeline._executor import Executor
from mlcycle.pipeline._splits import in_time_order
from mlcycle.pipeline._training import (
    TrainResult,
    TrialCallback,
    Xy,
    evaluate,
    features_and_target,
    fit,
)
from mlcycle.registry import ModelVersion, register_model_version, set_alias
from mlcycle.store import Workspace
from mlcycle.tracking import Run, start_run

#: Training rows (the latest) an ONNX conversion must reproduce to be served.
ONNX_CHECK_ROWS = 2_000


def _package(
    run: Run,
    model: Any,
    train: Xy,
    config: Config,
    metrics: Mapping[str, float],
    params: Mapping[str, Any],
    lineage: Mapping[str, Any],
) -> str:
    data = config.require_data()
    classes = list(model.classes_) if data.task == "classification" else None
    signature = Signature.infer(train.X, train.y, classes=classes)
    meta = ModelMeta(data.task, signature, metrics=metrics, params=params, lineage=lineage)
    # an ONNX copy, served by onnxruntime when faithful on these rows (needs mlcycle[onnx])
    return run.log_model(model, meta, evaluation_data=train.X.tail(ONNX_CHECK_ROWS))


def _lineage(
    run: Run, datasets: Sequence[DatasetVersion], train: Xy, window: str
) -> dict[str, Any]:
    return {
        "datasets": [d.ref for d in datasets],
        "train_rows": len(train),
        "train_window": window,
        "git_commit": run.git_commit,
    }


@dataclass(frozen=True)
class Trained:
    """A registered model version and the fitted model behind it."""

    version: ModelVersion
    model: Any
    result: TrainResult | None = None


def train_initial_model(
    ws: Workspace,
    config: Config,
    frame: pd.DataFrame,
    dataset: DatasetVersion,
    *,
    alias: str = "production",
    on_trial: TrialCallback | None = None,
    executor: Executor | None = None,
) -> Trained:
    """AutoML on the training period, then package, register and point `alias` at it.

    Args:
        frame: the training period's rows (any order; sorted by the time column).
        dataset: the dataset version the rows come from (lineage).
        executor: where the trials run (in parallel); None runs them here, one by one.

    Raises:
        DataError: if the data is unusable or too small to split.
    """
    data = features_and_target(
        in_time_order(frame, config.require_data().time_column), config.require_data()
    )
    with start_run(
        ws, experiment=config.experiment, name="automl", tags={"mlcycle.kind": "automl"}
    ) as run:
        run.log_input(dataset)
        run.log_params(
            {"trials": config.automl.trials, "families": ",".join(config.automl.families)}
        )
        result = search(ws, config, data, run, on_trial, executor=executor)
        run.log_params(
            {"best_family": result.family, **{f"best_{k}": v for k, v in result.params.items()}}
        )
        run.log_metrics({**result.holdout, **result.validation})
        params = {"family": result.family, **result.params}
        lineage = _lineage(run, [dataset], data, "training period")
        package_id = _package(run, result.model, data, config, result.holdout, params, lineage)
    version = register_model_version(
        ws, config.model_name, package_id, run_id=run.id, metrics=result.holdout
    )
    set_alias(
        ws,
        config.model_name,
        alias,
        version.version,
        reason="initial model from AutoML",
        evidence={"holdout": result.holdout, "run_id": run.id},
    )
    return Trained(version, result.model, result)


def train_candidate(
    ws: Workspace,
    config: Config,
    train: Xy,
    family: Family,
    params: Mapping[str, Any],
    *,
    datasets: Sequence[DatasetVersion],
    window: str,
    evaluate_on: Xy,
) -> Trained:
    """Fit `family` with `params` on `train`, score it on `evaluate_on`, then package
    it and register a new version of the model (no alias moves).

    The scores are logged as `gate_<metric>` and stored with the version.
    """
    name = f"retrain {window}"
    with start_run(
        ws, experiment=config.experiment, name=name, tags={"mlcycle.kind": "retrain"}
    ) as run:
        for dataset in datasets:
            run.log_input(dataset)
        run.log_params({"family": family, **params, "train_rows": len(train), "window": window})
        model = fit(family, params, train, config)
        metrics = {f"gate_{k}": v for k, v in evaluate(model, evaluate_on, config).items()}
        run.log_metrics(metrics)
        lineage = _lineage(run, datasets, train, window)
        params_all = {"family": family, **params}
        package_id = _package(run, model, train, config, metrics, params_all, lineage)
    version = register_model_version(
        ws, config.model_name, package_id, run_id=run.id, metrics=metrics
    )
    return Trained(version, model)
