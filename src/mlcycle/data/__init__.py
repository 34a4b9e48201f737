"""Data: dataset versions, schema inference, validation and tabular I/O."""

from __future__ import annotations

from pathlib import Path

from mlcycle.data._datasets import (
    DatasetVersion,
    get_dataset_version,
    list_dataset_versions,
    load_dataset_version,
    parse_ref,
    snapshot,
)
from mlcycle.data._io import TABULAR_SUFFIXES, read_table
from mlcycle.data._schema_infer import (
    ColumnInfo,
    FeatureProposal,
    column_kind,
    infer_schema,
    propose_features,
)
from mlcycle.data._validation import Check, ValidationReport, validate

#: The bundled UCI Bike Sharing hourly data (CC BY 4.0; see its README.md).
BIKE_SHARING_CSV = Path(__file__).parent / "bike_sharing" / "hour.csv"

__all__ = [
    "BIKE_SHARING_CSV",
    "TABULAR_SUFFIXES",
    "Check",
    "ColumnInfo",
    "DatasetVersion",
    "FeatureProposal",
    "ValidationReport",
    "column_kind",
    "get_dataset_version",
    "infer_schema",
    "list_dataset_versions",
    "load_dataset_version",
    "parse_ref",
    "propose_features",
    "read_table",
    "snapshot",
    "validate",
]
