"""Training: splits in time order, AutoML over model families, evaluation, registration."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlcycle.core import Config, DataConfig, DataError
from mlcycle.models import PRIMARY_METRIC, score
from mlcycle.pipeline._estimators import Family, build_estimator


@dataclass(frozen=True)
class Xy:
    """Features `X` (n_rows, n_features) and target `y` (n_rows,) of one slice."""

    X: pd.DataFrame
    y: pd.Series

    def __len__(self) -> int:
        return len(self.y)


def features_and_target(frame: pd.DataFrame, data: DataConfig) -> Xy:
    """Select the configured features and target; rows with a missing target are dropped.

    Raises:
        DataError: if a configured column is missing or no labeled rows remain.
    """
    for col in (*data.features, data.target):
        if col not in frame.columns:
            raise DataError(f"Column '{col}' is missing from the data")
    labeled = frame[frame[data.target].notna()]
    if labeled.empty:
        raise DataError(f"Target column '{data.target}' has no values")
    X = labeled[list(data.features)]
    for col in data.categorical:  # categories as plain objects: one dtype for training and serving
        X = X.assign(**{col: X[col].astype(object).where(X[col].notna(), np.nan)})
    return Xy(X.reset_index(drop=True), labeled[data.target].reset_index(drop=True))


def split_tail(xy: Xy, fraction: float) -> tuple[Xy, Xy]:
    """Split rows (already in time order) into head and the last `fraction` (the tail).

    Raises:
        DataError: if either part would be empty.
    """
    cut = round(len(xy) * (1.0 - fraction))
    if cut < 1 or cut >= len(xy):
        raise DataError(f"{len(xy)} rows are too few to hold out {fraction:.0%} of them")
    return Xy(xy.X.iloc[:cut], xy.y.iloc[:cut]), Xy(xy.X.iloc[cut:], xy.y.iloc[cut:])


def fit(family: Family, params: Mapping[str, Any], train: Xy, config: Config) -> Any:
    """Fit a model of `family` with `params` on `train`; return the fitted pipeline."""
    data = config.require_data()
    estimator = build_estimator(
        family,
        data.task,
        params,
        numeric=data.numeric,
        categorical=data.categorical,
        seed=config.automl.seed,
    )
    return estimator.fit(train.X, train.y)


def evaluate(model: Any, data: Xy, config: Config) -> dict[str, float]:
    """Score a fitted model on `data`: MAE/RMSE or accuracy/F1/log-loss."""
    task = config.require_data().task
    if task == "regression":
        return score(task, data.y, model.predict(data.X))
    proba = model.predict_proba(data.X)
    return score(task, data.y, model.predict(data.X), proba, model.classes_)


@dataclass(frozen=True)
class TrainResult:
    """The outcome of a search: the refit best model and its numbers."""

    model: Any
    family: Family
    params: dict[str, Any]
    validation: dict[str, float]
    holdout: dict[str, float]
    trials: int
    train_rows: int
    extra: dict[str, Any] = field(default_factory=dict)


TrialCallback = Callable[[int, int, str, float], None]


def primary_metric(config: Config) -> str:
    """The task's primary metric name (`mae` or `log_loss`)."""
    return PRIMARY_METRIC[config.require_data().task]
