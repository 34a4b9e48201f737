"""Input tensors to a model's frame: one 1-D tensor per signature column, or one [n, k] matrix.

The Open Inference Protocol
(https://github.com/kserve/open-inference-protocol, `inference_rest.md`)
names each input tensor and gives its `datatype` and `shape`. A tabular
model takes its signature's columns either as one tensor per column of
shape [n] or [n, 1], or as a single tensor of shape [n, k] whose k columns
are the signature's inputs in order (what Triton clients usually send).

Each column's datatype must fit its signature dtype:

    float64  FP16/32/64, INT*, UINT*
    int64    INT*, UINT* (within int64), FP* holding whole numbers
    bool     BOOL, or numbers that are 0 or 1
    string   BYTES, or numbers (categories that were numbers in training)

NaN means a missing value (as in :meth:`Signature.validate`); infinity is
never a valid feature value and is rejected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlcycle.core import InputError
from mlcycle.models import ColumnSpec, Signature

INTEGER_TYPES = frozenset(
    {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"}
)
FLOAT_TYPES = frozenset({"FP16", "FP32", "FP64"})
DATATYPES = INTEGER_TYPES | FLOAT_TYPES | {"BOOL", "BYTES"}
#: Signature dtype -> the OIP datatype that model metadata advertises.
OIP_DATATYPE = {"float64": "FP64", "int64": "INT64", "bool": "BOOL", "string": "BYTES"}
_NUMERIC = INTEGER_TYPES | FLOAT_TYPES
_ACCEPTS = {"float64": _NUMERIC, "int64": _NUMERIC, "bool": _NUMERIC | {"BOOL"},
            "string": DATATYPES}  # fmt: skip


@dataclass(frozen=True)
class Matrix:
    """Validated rows of a numeric signature, built without pandas.

    Attributes:
        values: float64, shape (n_rows, n_inputs), C-contiguous; NaN is missing.
        names: the column of each position (the signature's inputs, in order).
    """

    values: np.ndarray
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.values)

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame with columns `names` (float64)."""
        return pd.DataFrame(self.values, columns=list(self.names))

    @classmethod
    def validated(cls, frame: pd.DataFrame, signature: Signature) -> Matrix:
        """`frame`'s rows checked and coerced by :meth:`Signature.validate` (numeric
        signatures only: every column becomes float64).

        Raises:
            SignatureError: naming the column and row of a missing or mistyped value.
        """
        values = signature.validate(frame).to_numpy(dtype=np.float64)
        return cls(values, tuple(signature.input_names))


#: A request's rows: a :class:`Matrix` (numeric signatures) or the frame as received.
Inputs = Matrix | pd.DataFrame


@dataclass(frozen=True)
class Tensor:
    """One decoded input tensor.

    Attributes:
        name: the tensor's name.
        datatype: its OIP datatype (`FP64`, `BYTES` ...).
        shape: its shape, e.g. (n,), (n, 1) or (n, k).
        values: its elements, row-major, shape (prod(shape),); numeric
            datatypes as their numpy dtype, BYTES as Python objects.
    """

    name: str
    datatype: str
    shape: tuple[int, ...]
    values: np.ndarray


def frame_from_tensors(tensors: list[Tensor], signature: Signature) -> pd.DataFrame:
    """Build the model's frame (n_rows, n_inputs) from input tensors.

    Raises:
        InputError: naming the input that is missing, unknown, repeated, of the
            wrong shape or datatype, or holds an out-of-range or infinite value.
    """
    return pd.DataFrame(_columns(tensors, signature))


def inputs_from_tensors(tensors: list[Tensor], signature: Signature) -> Inputs:
    """The model's inputs from input tensors: for a numeric signature
    (:attr:`Signature.numeric`) their :class:`Matrix`, built without pandas;
    else the frame of :func:`frame_from_tensors`.

    Raises:
        InputError: as :func:`frame_from_tensors`.
    """
    if not signature.numeric:
        return frame_from_tensors(tensors, signature)
    if len(tensors) == 1 and _all_float(tensors[0], signature):
        tensor = tensors[0]  # the common [n, k] float matrix: checked once, no per-column work
        _check_finite(tensor.values, f"input '{tensor.name}'")
        values = tensor.values.reshape(tensor.shape).astype(np.float64)
    else:
        columns = _columns(tensors, signature)
        values = np.column_stack([columns[name] for name in signature.input_names])
    return Matrix(values.astype(np.float64, copy=False), tuple(signature.input_names))


def _all_float(tensor: Tensor, signature: Signature) -> bool:
    return (
        tensor.datatype in FLOAT_TYPES
        and tensor.name not in signature.input_names
        and len(tensor.shape) == 2
        and tensor.shape[1] == len(signature.inputs)
        and all(c.dtype == "float64" for c in signature.inputs)
    )


def _columns(tensors: list[Tensor], signature: Signature) -> dict[str, np.ndarray]:
    names = [t.name for t in tensors]
    if len(set(names)) != len(names):
        raise InputError(f"input {_first_repeat(names)!r} is given more than once")
    if len(tensors) == 1 and tensors[0].name not in signature.input_names:
        columns = _split_matrix(tensors[0], signature)
    else:
        columns = _per_column(tensors, signature)
    rows = {len(v) for v in columns.values()}
    if len(rows) != 1:
        raise InputError(f"inputs have different row counts: {sorted(rows)}")
    return columns


def _first_repeat(names: list[str]) -> str:
    return next(n for i, n in enumerate(names) if n in names[:i])


def _per_column(tensors: list[Tensor], signature: Signature) -> dict[str, np.ndarray]:
    given = {t.name: t for t in tensors}
    for name in given:
        if name not in signature.input_names:
            raise InputError(
                f"input '{name}' is not an input of this model "
                f"(inputs: {', '.join(signature.input_names)})"
            )
    for spec in signature.inputs:
        if spec.name not in given:
            raise InputError(
                f"input '{spec.name}' is missing (the model needs: "
                f"{', '.join(signature.input_names)})"
            )
    return {spec.name: _column(given[spec.name], spec) for spec in signature.inputs}


def _column(tensor: Tensor, spec: ColumnSpec) -> np.ndarray:
    shape = tensor.shape
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
        raise InputError(f"input '{tensor.name}': shape {list(shape)} must be [n] or [n, 1]")
    return convert(tensor.values, tensor.datatype, spec, f"input '{tensor.name}'")


def _split_matrix(tensor: Tensor, signature: Signature) -> dict[str, np.ndarray]:
    k = len(signature.inputs)
    if len(tensor.shape) != 2 or tensor.shape[1] != k:
        raise InputError(
            f"input '{tensor.name}' is not an input of this model; a single input must be "
            f"[n, {k}] (columns {', '.join(signature.input_names)}), got shape {list(tensor.shape)}"
        )
    matrix = tensor.values.reshape(tensor.shape)
    return {
        spec.name: convert(matrix[:, j], tensor.datatype, spec,
                           f"input '{tensor.name}' column {j} ('{spec.name}')")
        for j, spec in enumerate(signature.inputs)
    }  # fmt: skip


def convert(values: np.ndarray, datatype: str, spec: ColumnSpec, where: str) -> np.ndarray:
    """Convert a column's values (n_rows,) of OIP `datatype` to `spec`'s dtype.

    Returns float64 for float64 columns, int64 for int64 columns (float64
    if a value is missing), bool for bool columns and objects for strings.

    Raises:
        InputError: naming `where` if the datatype does not fit the column or a
            value is out of range, fractional, infinite or not 0/1 for a bool.
    """
    if datatype not in _ACCEPTS[spec.dtype]:
        allowed = "BYTES" if spec.dtype == "string" else OIP_DATATYPE[spec.dtype]
        raise InputError(
            f"{where}: datatype {datatype} does not fit the model's {spec.dtype} column "
            f"(send {allowed})"
        )
    if datatype in ("BYTES", "BOOL"):
        return values
    if spec.dtype == "string":
        return values.astype(object)
    _check_finite(values, where)
    if spec.dtype == "int64":
        return _whole(values, where)
    if spec.dtype == "bool":
        _check_row(~np.isin(values, (0, 1)) & ~np.isnan(values.astype(float)), values, where,
                   "must be 0 or 1 (or BOOL)")  # fmt: skip
        return values.astype(float)
    return values.astype(np.float64)


def _check_finite(values: np.ndarray, where: str) -> None:
    if values.dtype.kind == "f":
        _check_row(np.isinf(values), values, where,
                   "must be finite (NaN means missing; infinity is not a value)")  # fmt: skip


def _whole(values: np.ndarray, where: str) -> np.ndarray:
    if values.dtype.kind == "u":
        _check_row(values > np.iinfo(np.int64).max, values, where, "does not fit int64")
        return values.astype(np.int64)
    if values.dtype.kind == "f":
        _check_row(np.isfinite(values) & (values != np.round(values)), values, where,
                   "must be a whole number")  # fmt: skip
        if np.isnan(values).any():
            return values.astype(np.float64)
    return values.astype(np.int64)


def _check_row(bad: np.ndarray, values: np.ndarray, where: str, rule: str) -> None:
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(f"{where}: value {values[row].item()!r} in row {row} {rule}")


def check_finite_frame(frame: pd.DataFrame, signature: Signature) -> None:
    """Reject infinite values in `frame`'s numeric signature columns (JSON records).

    Raises:
        InputError: naming the column and row of the first infinite value.
    """
    for spec in signature.inputs:
        if spec.dtype in ("float64", "int64") and spec.name in frame.columns:
            column = frame[spec.name]
            if not pd.api.types.is_numeric_dtype(column):  # "inf" would coerce to infinity
                column = pd.to_numeric(column, errors="coerce")
            if column.dtype.kind == "f":
                _check_finite(column.to_numpy(), f"column '{spec.name}'")
