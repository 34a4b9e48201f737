"""Pipeline: splits in time order, AutoML on Optuna, training and registration."""

from __future__ import annotations

from mlcycle.pipeline._automl import search
from mlcycle.pipeline._estimators import Family, build_estimator, suggest_params
from mlcycle.pipeline._register import Trained, train_candidate, train_initial_model
from mlcycle.pipeline._splits import in_time_order, replay_windows, split_training_period
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

__all__ = [
    "Family",
    "TrainResult",
    "Trained",
    "TrialCallback",
    "Xy",
    "build_estimator",
    "evaluate",
    "features_and_target",
    "fit",
    "in_time_order",
    "primary_metric",
    "replay_windows",
    "search",
    "split_tail",
    "split_training_period",
    "suggest_params",
    "train_candidate",
    "train_initial_model",
]
