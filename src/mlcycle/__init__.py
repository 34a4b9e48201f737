"""mlcycle: the whole ML lifecycle as one closed loop.

The public Python API. Heavy subpackages load on first use, so
`import mlcycle` stays fast::

    import mlcycle

    with mlcycle.start_run(experiment="demo") as run:
        run.log_params({"alpha": 0.1})
        run.log_metric("mae", 31.2, step=0)

    model = mlcycle.load_model("bike-demand@production")
    model.predict(frame)

    @mlcycle.step
    def clean(limit: int = 100) -> dict: ...

    @mlcycle.pipeline
    def train(trials: int = 5) -> None:
        fit(clean(), trials=trials)

Functions without a `workspace` argument use :func:`open_workspace`'s
default: `$MLCYCLE_WORKSPACE`, else the current folder.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mlcycle._facade import (
    current_run,
    get_run,
    load_model,
    open_workspace,
    search_runs,
    start_run,
)
from mlcycle.core import (
    ConfigError,
    DataError,
    DatasetNotFound,
    InputError,
    IntegrityError,
    MlcycleError,
    ModelNotFound,
    NotFound,
    RunNotFound,
    ServingError,
    SignatureError,
)

if TYPE_CHECKING:
    from mlcycle import pipeline
    from mlcycle.pipeline._step import step
    from mlcycle.store import Workspace

__version__ = "0.1.0"

_LAZY = {"Workspace": "mlcycle.store", "step": "mlcycle.pipeline._step"}


def __getattr__(name: str) -> Any:
    if name == "pipeline":  # the subpackage, callable as the @pipeline decorator
        return importlib.import_module("mlcycle.pipeline")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mlcycle' has no attribute {name!r}")


__all__ = [
    "ConfigError",
    "DataError",
    "DatasetNotFound",
    "InputError",
    "IntegrityError",
    "MlcycleError",
    "ModelNotFound",
    "NotFound",
    "RunNotFound",
    "ServingError",
    "SignatureError",
    "Workspace",
    "__version__",
    "current_run",
    "get_run",
    "load_model",
    "open_workspace",
    "pipeline",
    "search_runs",
    "start_run",
    "step",
]
