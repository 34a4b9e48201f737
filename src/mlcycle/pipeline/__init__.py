"""Pipeline: cached steps and stages in one DAG, executors, lineage; training and AutoML.

Names load lazily (PEP 562): `import mlcycle.pipeline` must not import
scikit-learn, Optuna or pandas, because a no-op `mlcycle run` goes through
here and has to answer in a fraction of a second.

This module is also the decorator `mlcycle.pipeline`: importing a submodule
(`mlcycle.pipeline._step`) always sets the attribute `mlcycle.pipeline` to
this module object, so a plain function of that name could never win. The
module's class is therefore swapped for a callable one (Python data model,
"Customizing module attribute access"), and `@mlcycle.pipeline` works.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlcycle.pipeline._automl import search
    from mlcycle.pipeline._context import current_run
    from mlcycle.pipeline._dag import Dag, DagNode
    from mlcycle.pipeline._estimators import Family, build_estimator, suggest_params
    from mlcycle.pipeline._executor import Executor, LocalExecutor, Resources, make_executor
    from mlcycle.pipeline._lineage import (
        LineageNode,
        lineage_of_dataset,
        lineage_of_model,
    )
    from mlcycle.pipeline._load import load_dag
    from mlcycle.pipeline._register import Trained, train_candidate, train_initial_model
    from mlcycle.pipeline._runner import Observer, PipelineResult, StepOutcome, run_pipeline
    from mlcycle.pipeline._splits import in_time_order, replay_windows, split_training_period
    from mlcycle.pipeline._step import Node, Pipeline, Step, pipeline, step
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
    from mlcycle.pipeline._training_pipeline import dataset_name, run_training, training

_WHERE = {
    "_automl": "search",
    "_context": "current_run",
    "_dag": "Dag DagNode",
    "_estimators": "Family build_estimator suggest_params",
    "_executor": "Executor LocalExecutor Resources make_executor",
    "_lineage": "LineageNode lineage_of_dataset lineage_of_model",
    "_load": "load_dag",
    "_register": "Trained train_candidate train_initial_model",
    "_runner": "Observer PipelineResult StepOutcome run_pipeline",
    "_splits": "in_time_order replay_windows split_training_period",
    "_step": "Node Pipeline Step step",
    "_training_pipeline": "dataset_name run_training training",
    "_training": (
        "TrainResult TrialCallback Xy evaluate features_and_target fit primary_metric split_tail"
    ),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names.split()}


def __getattr__(name: str) -> Any:
    if name == "pipeline":
        return importlib.import_module("mlcycle.pipeline._step").pipeline
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'mlcycle.pipeline' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"mlcycle.pipeline.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


class _CallableModule(types.ModuleType):
    """This module, callable as the `@pipeline` decorator (see the module docstring)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from mlcycle.pipeline._step import pipeline as _pipeline

        return _pipeline(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = [
    "Dag",
    "DagNode",
    "Executor",
    "Family",
    "LineageNode",
    "LocalExecutor",
    "Node",
    "Observer",
    "Pipeline",
    "PipelineResult",
    "Resources",
    "Step",
    "StepOutcome",
    "TrainResult",
    "Trained",
    "TrialCallback",
    "Xy",
    "build_estimator",
    "current_run",
    "dataset_name",
    "evaluate",
    "features_and_target",
    "fit",
    "in_time_order",
    "lineage_of_dataset",
    "lineage_of_model",
    "load_dag",
    "make_executor",
    "pipeline",
    "primary_metric",
    "replay_windows",
    "run_pipeline",
    "run_training",
    "search",
    "split_tail",
    "split_training_period",
    "step",
    "suggest_params",
    "train_candidate",
    "train_initial_model",
    "training",
]
