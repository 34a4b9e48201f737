"""AutoML: an Optuna TPE search over model families and their hyperparameters.

Each trial is a tracked child run (params: family and hyperparameters;
metrics: validation scores). Trials fit on the first part of the search
rows and are scored on the next part (time order is kept, so no trial
sees the future); the best configuration is refit on all search rows and
scored once on the held-out tail, which no trial has seen.

With an executor, trials run in parallel (Optuna's ask-and-tell): this
process asks the study for parameters, an executor task fits and scores
(:func:`run_trial`), and this process logs the trial's run and tells the
study. The study is stored in the workspace's metadata database (Optuna's
tables beside mlcycle's; each keeps its own Alembic version table), named
by :func:`study_name`. The search rows go to the object store once as
Parquet; tasks carry only their object id, so they stay small and work on
any node that reaches the object store.
"""

from __future__ import annotations

import functools
import io
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mlcycle.core import Config, ConfigError
from mlcycle.pipeline._estimators import Family, suggest_params
from mlcycle.pipeline._executor import Executor, Resources
from mlcycle.pipeline._training import (
    TrainResult,
    TrialCallback,
    Xy,
    evaluate,
    features_and_target,
    fit,
    primary_metric,
    split_tail,
)
from mlcycle.store import ObjectStore, Workspace
from mlcycle.tracking import Run, start_run

#: What one parallel trial asks of the executor; reruns if its worker dies.
TRIAL_RESOURCES = Resources(cpus=1)
TRIAL_RETRIES = 2


def _sampler(config: Config) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.samplers.TPESampler(seed=config.automl.seed)


def _trial_run(ws: Workspace, parent: Run, number: int) -> Run:
    return start_run(
        ws,
        experiment=parent.experiment,
        name=f"trial-{number}",
        parent_id=parent.id,
        tags={"mlcycle.kind": "trial"},
    )


def _suggest(trial: Any, config: Config) -> tuple[Family, dict[str, Any]]:
    family = trial.suggest_categorical("family", list(config.automl.families))
    return family, suggest_params(trial, family, config.require_data().task)


def _objective(ws: Workspace, config: Config, parent: Run, train: Xy, valid: Xy) -> Any:
    metric = primary_metric(config)

    def objective(trial: Any) -> float:
        family, params = _suggest(trial, config)
        with _trial_run(ws, parent, trial.number) as run:
            run.log_params({"family": family, **params})
            scores = evaluate(fit(family, params, train, config), valid, config)
            run.log_metrics({f"val_{k}": v for k, v in scores.items()})
        trial.set_user_attr("run_id", run.id)
        return scores[metric]

    return objective


def _search_sequential(
    ws: Workspace, config: Config, rows: Xy, parent: Run, on_trial: TrialCallback | None
) -> Any:
    """Run every trial here, one after another (an in-memory study); return the best trial."""
    import optuna

    train, valid = split_tail(rows, config.automl.validation_fraction)
    study = optuna.create_study(direction="minimize", sampler=_sampler(config))
    total = config.automl.trials

    def report(st: Any, trial: Any) -> None:
        if on_trial is not None:
            on_trial(len(st.trials), total, trial.params.get("family", ""), trial.value)

    study.optimize(_objective(ws, config, parent, train, valid), n_trials=total, callbacks=[report])
    return study.best_trial


def study_name(parent_id: str) -> str:
    """The name of the Optuna study of the AutoML run `parent_id` in the metadata DB."""
    return f"mlcycle-automl-{parent_id}"


@dataclass(frozen=True)
class TrialTask:
    """One trial for a worker: where the search rows are and what to fit (small, picklable).

    Attributes:
        objects_url: the object store's URL (every worker must reach it).
        data_id: object id of the search rows as Parquet: features and target.
        config: the workspace config (`data` and `automl` are used).
        family: the model family.
        params: its hyperparameters.
    """

    objects_url: str
    data_id: str
    config: Config
    family: Family
    params: dict[str, Any]


@functools.lru_cache(maxsize=2)  # a worker runs many trials on the same rows
def _load_rows(objects_url: str, data_id: str) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(ObjectStore(objects_url).get_bytes(data_id)))


def run_trial(task: TrialTask) -> dict[str, float]:
    """Fit and score one trial (on a worker); return its validation scores by metric.

    The rows are split exactly as the sequential search splits them. Native
    thread pools (OpenMP, BLAS) are held to the trial's CPUs: parallel
    trials each spinning threads on every core slowed 8 trials down 4x.

    Raises:
        NotFound: if the worker cannot find the rows in the object store.
    """
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # via sklearn

    rows = features_and_target(
        _load_rows(task.objects_url, task.data_id), task.config.require_data()
    )
    train, valid = split_tail(rows, task.config.automl.validation_fraction)
    with threadpool_limits(limits=max(1, int(TRIAL_RESOURCES.cpus))):
        return evaluate(fit(task.family, task.params, train, task.config), valid, task.config)


def _to_parquet(rows: Xy, target: str) -> bytes:
    buf = io.BytesIO()
    rows.X.assign(**{target: rows.y.to_numpy()}).to_parquet(buf, index=False)
    return buf.getvalue()


class _ParallelSearch:
    """The driver of a parallel search: asks, submits, then logs and tells as results arrive."""

    def __init__(
        self, ws: Workspace, config: Config, parent: Run, study: Any, data_id: str
    ) -> None:
        self.ws, self.config, self.parent, self.study = ws, config, parent, study
        self.data_id = data_id
        self.pending: dict[Future[dict[str, float]], tuple[Any, Family, dict[str, Any]]] = {}
        self.done = 0

    def run(self, executor: Executor, parallelism: int, on_trial: TrialCallback | None) -> None:
        """Keep `parallelism` trials in flight on `executor` until all have finished."""
        total, asked = self.config.automl.trials, 0
        try:
            while self.done < total:
                while len(self.pending) < parallelism and asked < total:
                    self._submit(executor)
                    asked += 1
                finished, _ = wait(self.pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    family, value = self._record(future)
                    if on_trial is not None:
                        on_trial(self.done, total, family, value)
        finally:
            self._abandon()

    def _submit(self, executor: Executor) -> None:
        trial = self.study.ask()
        family, params = _suggest(trial, self.config)
        task = TrialTask(self.ws.objects.url, self.data_id, self.config, family, params)
        future = executor.submit(
            run_trial, task, resources=TRIAL_RESOURCES, max_retries=TRIAL_RETRIES
        )
        self.pending[future] = (trial, family, params)

    def _record(self, future: Future[dict[str, float]]) -> tuple[Family, float]:
        """Log the finished trial as a child run and tell the study its score."""
        trial, family, params = self.pending.pop(future)
        with _trial_run(self.ws, self.parent, trial.number) as run:
            run.log_params({"family": family, **params})
            try:
                scores = future.result()
            except BaseException:
                _tell_failed(self.study, trial)
                raise  # the run is marked failed on the way out
            run.log_metrics({f"val_{k}": v for k, v in scores.items()})
        trial.set_user_attr("run_id", run.id)
        value = scores[primary_metric(self.config)]
        self.study.tell(trial, value)
        self.done += 1
        return family, value

    def _abandon(self) -> None:
        """After an error: cancel what has not finished and mark those trials failed."""
        for future, (trial, _, _) in self.pending.items():
            future.cancel()
            _tell_failed(self.study, trial)
        self.pending.clear()


def _tell_failed(study: Any, trial: Any) -> None:
    from optuna.trial import TrialState

    study.tell(trial, state=TrialState.FAIL)


def _storage(url: str) -> Any:
    import optuna

    # SQLite: wait for a writer (a model server sharing the workspace) instead of failing
    engine_kwargs = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)


def _search_parallel(
    ws: Workspace,
    config: Config,
    rows: Xy,
    parent: Run,
    on_trial: TrialCallback | None,
    executor: Executor,
    parallelism: int,
) -> Any:
    """Run the trials on `executor`, `parallelism` at a time; return the best trial."""
    import optuna

    storage = _storage(ws.db.url)
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=study_name(parent.id),
            direction="minimize",
            sampler=_sampler(config),
        )
        data_id = ws.objects.put_bytes(_to_parquet(rows, config.require_data().target))
        driver = _ParallelSearch(ws, config, parent, study, data_id)
        driver.run(executor, parallelism, on_trial)
        return study.best_trial
    finally:
        storage.remove_session()
        storage.engine.dispose()


def search(
    ws: Workspace,
    config: Config,
    data: Xy,
    parent: Run,
    on_trial: TrialCallback | None = None,
    *,
    executor: Executor | None = None,
    parallelism: int = 2,
) -> TrainResult:
    """Run the AutoML search on `data` (rows in time order) under run `parent`.

    Args:
        ws: the workspace (trials are tracked there).
        config: `automl` and `data` sections are used.
        data: the training period's features and target.
        parent: the parent run; trials become its child runs.
        on_trial: called after each trial with (done, total, family, value).
        executor: where trials run; None runs them here one by one (the
            same seed gives the same trials). With an executor the study is
            stored in the metadata DB as :func:`study_name` of `parent.id`.
        parallelism: at most this many trials in flight on `executor`.

    Returns:
        The best model refit on the search rows, with validation and holdout
        scores; `extra` holds `best_trial_run` (a run id) and, with an
        executor, `study` (the Optuna study's name).

    Raises:
        DataError: if the data is too small to split.
        ConfigError: if `parallelism` is below 1.
        Exception: a trial's own error (its run is marked failed).
    """
    if parallelism < 1:
        raise ConfigError(f"AutoML parallelism must be at least 1; got {parallelism}")
    search_rows, holdout = split_tail(data, config.automl.holdout_fraction)
    extra: dict[str, Any] = {}
    if executor is None:
        best = _search_sequential(ws, config, search_rows, parent, on_trial)
    else:
        best = _search_parallel(ws, config, search_rows, parent, on_trial, executor, parallelism)
        extra["study"] = study_name(parent.id)
    family = best.params["family"]
    params = {k: v for k, v in best.params.items() if k != "family"}
    model = fit(family, params, search_rows, config)
    validation = {f"val_{primary_metric(config)}": float(best.value)}
    extra["best_trial_run"] = best.user_attrs.get("run_id")
    holdout_scores = evaluate(model, holdout, config)
    trials = config.automl.trials
    return TrainResult(
        model, family, params, validation, holdout_scores, trials, len(search_rows), extra
    )
