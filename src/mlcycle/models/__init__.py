"""Models: the package format (`model.yaml` + the model in its flavor's format), flavors,
signatures and loading."""

from __future__ import annotations

from mlcycle.models._flavors import FLAVORS, flavor_extra, get_flavor, infer_flavor
from mlcycle.models._metrics import (
    PRIMARY_METRIC,
    classification_metrics,
    regression_metrics,
    score,
)
from mlcycle.models._package import (
    FORMAT,
    MODEL_YAML,
    LoadedModel,
    ModelMeta,
    fetch_package,
    load_package,
    read_meta,
    save_model,
    save_package,
    store_package,
)
from mlcycle.models._signature import ColumnSpec, Dtype, Signature, dtype_of

__all__ = [
    "FLAVORS",
    "FORMAT",
    "MODEL_YAML",
    "PRIMARY_METRIC",
    "ColumnSpec",
    "Dtype",
    "LoadedModel",
    "ModelMeta",
    "Signature",
    "classification_metrics",
    "dtype_of",
    "fetch_package",
    "flavor_extra",
    "get_flavor",
    "infer_flavor",
    "load_package",
    "read_meta",
    "regression_metrics",
    "save_model",
    "save_package",
    "score",
    "store_package",
]
