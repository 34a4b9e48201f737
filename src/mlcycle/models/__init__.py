"""Models: the package format (`model.yaml` + skops), signatures and loading."""

from __future__ import annotations

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
    save_package,
    store_package,
)
from mlcycle.models._signature import ColumnSpec, Dtype, Signature, dtype_of

__all__ = [
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
    "load_package",
    "read_meta",
    "regression_metrics",
    "save_package",
    "score",
    "store_package",
]
