"""Data: tracked files and folders, dataset versions, schema inference, validation, I/O.

Names load lazily (PEP 562) so that `from mlcycle.data import hash_path`
does not import pandas or SQLAlchemy: `data status` and a pipeline's no-op
run only hash files.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlcycle.data._datasets import (
        DatasetVersion,
        get_dataset_version,
        list_dataset_versions,
        load_dataset_version,
        parse_ref,
        snapshot,
    )
    from mlcycle.data._diff import DiffResult, diff
    from mlcycle.data._expectations import check_expectations, expectation_failures
    from mlcycle.data._gc import GcResult, gc
    from mlcycle.data._io import TABULAR_SUFFIXES, read_table
    from mlcycle.data._pointers import Pointer, read_pointer, write_pointer
    from mlcycle.data._remote import TransferResult, find_pointer_files, pull, push, remote_url
    from mlcycle.data._schema_infer import (
        ColumnInfo,
        FeatureProposal,
        column_kind,
        infer_schema,
        propose_features,
    )
    from mlcycle.data._status import PathStatus, status
    from mlcycle.data._tracked import PathHash, hash_path, restore_path, store_path
    from mlcycle.data._validation import Check, ValidationReport, validate
    from mlcycle.data._versioning import add_paths, checkout, log

#: The bundled UCI Bike Sharing hourly data (CC BY 4.0; see its README.md).
BIKE_SHARING_CSV = Path(__file__).parent / "bike_sharing" / "hour.csv"

_WHERE = {
    "_datasets": (
        "DatasetVersion get_dataset_version list_dataset_versions load_dataset_version "
        "parse_ref snapshot"
    ),
    "_diff": "DiffResult diff",
    "_expectations": "check_expectations expectation_failures",
    "_gc": "GcResult gc",
    "_remote": "TransferResult find_pointer_files pull push remote_url",
    "_io": "TABULAR_SUFFIXES read_table",
    "_pointers": "Pointer read_pointer write_pointer",
    "_schema_infer": "ColumnInfo FeatureProposal column_kind infer_schema propose_features",
    "_status": "PathStatus status",
    "_tracked": "PathHash hash_path restore_path store_path",
    "_validation": "Check ValidationReport validate",
    "_versioning": "add_paths checkout log",
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names.split()}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'mlcycle.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"mlcycle.data.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


__all__ = [
    "BIKE_SHARING_CSV",
    "TABULAR_SUFFIXES",
    "Check",
    "ColumnInfo",
    "DatasetVersion",
    "DiffResult",
    "FeatureProposal",
    "GcResult",
    "PathHash",
    "PathStatus",
    "Pointer",
    "TransferResult",
    "ValidationReport",
    "add_paths",
    "check_expectations",
    "checkout",
    "column_kind",
    "diff",
    "expectation_failures",
    "find_pointer_files",
    "gc",
    "get_dataset_version",
    "hash_path",
    "infer_schema",
    "list_dataset_versions",
    "load_dataset_version",
    "log",
    "parse_ref",
    "propose_features",
    "pull",
    "push",
    "read_pointer",
    "read_table",
    "remote_url",
    "restore_path",
    "snapshot",
    "status",
    "store_path",
    "validate",
    "write_pointer",
]
