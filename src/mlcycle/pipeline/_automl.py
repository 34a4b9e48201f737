"""AutoML: an Optuna TPE search over model families and their hyperparameters.

Each trial is a tracked child run (params: family and hyperparameters;
metrics: validation scores). Trials fit on the first part of the search
rows and are scored on the next part (time order is kept, so no trial
sees the future); the best configuration is refit on all search rows and
scored once on the held-out tail, which no trial has seen.
"""

from __future__ import annotations

from typing import Any

from mlcycle.core import Config
from mlcycle.pipeline._estimators import suggest_params
from mlcycle.pipeline._training import (
    TrainResult,
    TrialCallback,
    Xy,
    evaluate,
    fit,
    primary_metric,
    split_tail,
)
from mlcycle.store import Workspace
from mlcycle.tracking import Run, start_run


def _objective(ws: Workspace, config: Config, parent: Run, train: Xy, valid: Xy) -> Any:
    metric = primary_metric(config)
    task = config.require_data().task

    def objective(trial: Any) -> float:
        family = trial.suggest_categorical("family", list(config.automl.families))
        params = suggest_params(trial, family, task)
        with start_run(
            ws,
            experiment=parent.experiment,
            name=f"trial-{trial.number}",
            parent_id=parent.id,
            tags={"mlcycle.kind": "trial"},
        ) as run:
            run.log_params({"family": family, **params})
            scores = evaluate(fit(family, params, train, config), valid, config)
            run.log_metrics({f"val_{k}": v for k, v in scores.items()})
        trial.set_user_attr("run_id", run.id)
        return scores[metric]

    return objective


def search(
    ws: Workspace,
    config: Config,
    data: Xy,
    parent: Run,
    on_trial: TrialCallback | None = None,
) -> TrainResult:
    """Run the AutoML search on `data` (rows in time order) under run `parent`.

    Args:
        ws: the workspace (trials are tracked there).
        config: `automl` and `data` sections are used.
        data: the training period's features and target.
        parent: the parent run; trials become its child runs.
        on_trial: called after each trial with (done, total, family, value).

    Returns:
        The best model refit on the search rows, with validation and holdout scores.

    Raises:
        DataError: if the data is too small to split.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    search_rows, holdout = split_tail(data, config.automl.holdout_fraction)
    train, valid = split_tail(search_rows, config.automl.validation_fraction)
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=config.automl.seed)
    )
    total = config.automl.trials

    def report(st: Any, trial: Any) -> None:
        if on_trial is not None:
            on_trial(len(st.trials), total, trial.params.get("family", ""), trial.value)

    study.optimize(_objective(ws, config, parent, train, valid), n_trials=total, callbacks=[report])
    best = study.best_trial
    family = best.params["family"]
    params = {k: v for k, v in best.params.items() if k != "family"}
    model = fit(family, params, search_rows, config)
    validation = {f"val_{primary_metric(config)}": float(study.best_value)}
    return TrainResult(
        model,
        family,
        params,
        validation,
        evaluate(model, holdout, config),
        total,
        len(search_rows),
        {"best_trial_run": best.user_attrs.get("run_id")},
    )
