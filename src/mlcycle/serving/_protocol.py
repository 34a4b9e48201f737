"""Request and response shapes: Open Inference Protocol v2 (KServe) and JSON records.

OIP v2 REST: https://github.com/kserve/open-inference-protocol (the
`infer` request carries named input tensors with `shape`, `datatype`
and row-major `data`). A tabular model takes one 1-D input per column.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlcycle.core import InputError
from mlcycle.models import Signature

#: Signature dtype -> OIP datatype.
OIP_DATATYPE = {"float64": "FP64", "int64": "INT64", "bool": "BOOL", "string": "BYTES"}
_NUMERIC = {
    "FP16",
    "FP32",
    "FP64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
}


def _field(obj: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind):
        raise InputError(f"{where}: field '{key}' must be a {kind.__name__}")
    return value


def _oip_column(tensor: Any, index: int) -> tuple[str, list[Any]]:
    where = f"inputs[{index}]"
    if not isinstance(tensor, dict):
        raise InputError(f"{where}: must be an object with name, shape, datatype and data")
    name = _field(tensor, "name", str, where)
    where = f"input '{name}'"
    shape = _field(tensor, "shape", list, where)
    datatype = _field(tensor, "datatype", str, where)
    data = _field(tensor, "data", list, where)
    if datatype not in _NUMERIC | {"BOOL", "BYTES"}:
        raise InputError(f"{where}: unknown datatype {datatype!r}")
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise InputError(f"{where}: shape must be a list of non-negative integers; got {shape}")
    if len(shape) == 2 and all(isinstance(v, list) and len(v) == 1 for v in data):
        data = [v[0] for v in data]  # nested [n, 1] data, as OIP allows
    _check_scalars(data, where)
    if (
        not shape
        or int(np.prod(shape)) != len(data)
        or (len(shape) == 2 and shape[1] != 1)
        or len(shape) > 2
    ):
        raise InputError(
            f"{where}: shape {shape} does not match {len(data)} values (use [n] or [n, 1])"
        )
    return name, data


def _check_scalars(values: Any, where: str) -> None:
    for row, value in enumerate(values):
        if isinstance(value, dict | list):
            raise InputError(f"{where}: values must be scalars; got {value!r} in row {row}")


def frame_from_oip(body: Any) -> pd.DataFrame:
    """Build a frame (n_rows, n_inputs) from an OIP v2 infer request body.

    Raises:
        InputError: naming the input whose name, shape, datatype or data is wrong.
    """
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise InputError("request body must be an object with a non-empty 'inputs' list")
    columns = dict(_oip_column(t, i) for i, t in enumerate(body["inputs"]))
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise InputError(f"inputs have different row counts: {sorted(lengths)}")
    return pd.DataFrame(columns)


def frame_from_records(body: Any) -> pd.DataFrame:
    """Build a frame from JSON records: a list of row objects, `{"records": [...]}`
    or `{"columns": {name: [values]}}`.

    Raises:
        InputError: if the body has none of these shapes or no rows.
    """
    if isinstance(body, dict) and "records" in body:
        body = body["records"]
    if isinstance(body, dict) and isinstance(body.get("columns"), dict):
        columns = body["columns"]
        if (
            not all(isinstance(v, list) for v in columns.values())
            or len({len(v) for v in columns.values()}) > 1
        ):
            raise InputError("'columns' must map each column name to a list, all of one length")
        frame = pd.DataFrame(columns)
    elif isinstance(body, list) and all(isinstance(r, dict) for r in body):
        frame = pd.DataFrame.from_records(body)
    else:
        raise InputError(
            "request body must be a list of records, {'records': [...]} or {'columns': {...}}"
        )
    if frame.empty:
        raise InputError("request has no rows")
    for column in frame.columns:
        if frame[column].dtype == object:
            _check_scalars(frame[column], f"column '{column}'")
    return frame


def oip_output(signature: Signature, predictions: np.ndarray) -> dict[str, Any]:
    """The OIP v2 output tensor for 1-D `predictions`."""
    datatype = "FP64" if signature.classes is None else OIP_DATATYPE[signature.output.dtype]
    return {
        "name": signature.output.name,
        "datatype": datatype,
        "shape": [len(predictions)],
        "data": predictions.tolist(),
    }


def oip_metadata(name: str, version: int, signature: Signature) -> dict[str, Any]:
    """OIP v2 model metadata: name, versions, platform, inputs and outputs."""
    out = oip_output(signature, np.empty(0))
    return {
        "name": name,
        "versions": [str(version)],
        "platform": "mlcycle-sklearn",
        "inputs": [
            {"name": c.name, "datatype": OIP_DATATYPE[c.dtype], "shape": [-1]}
            for c in signature.inputs
        ],
        "outputs": [{"name": out["name"], "datatype": out["datatype"], "shape": [-1]}],
    }
