"""Rows of the `/predict` JSON body: a list of records, `{"records": [...]}` or
`{"columns": {name: [values]}}`, pandas-style.

A model whose inputs are all numeric takes its rows as one float64 matrix
(n_rows, n_inputs) in signature order. Building it straight from the
parsed JSON (values that are all JSON numbers or null) costs a few
microseconds per request, against about a millisecond for a DataFrame and
:meth:`~mlcycle.models.Signature.validate`; any other body (a missing
column, a boolean, a numeric string, a nested value) takes the pandas path,
which accepts exactly what :meth:`Signature.validate` accepts and raises
its errors, naming the column and row.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from mlcycle.core import InputError
from mlcycle.models import Signature
from mlcycle.serving._tensors import Inputs, Matrix, check_finite_frame

_NUMBERS = frozenset({int, float, type(None)})  # JSON numbers; null is a missing value (NaN)


def inputs_from_records(body: Any, signature: Signature) -> Inputs:
    """The model inputs of a `/predict` body (see :func:`frame_from_records`).

    Returns:
        For a numeric signature (:attr:`Signature.numeric`), the validated
        :class:`Matrix` (extra fields ignored, null as NaN); otherwise the
        frame as received, validated later with the rest of its batch.

    Raises:
        InputError: if the body has no rows or none of the shapes, a value is
            not a scalar or infinite; SignatureError (an InputError) naming the
            column and row of a missing column or a mistyped value.
    """
    matrix = _plain_matrix(body, signature) if signature.numeric else None
    if matrix is not None:
        return Matrix(matrix, tuple(signature.input_names))
    frame = frame_from_records(body)
    check_finite_frame(frame, signature)
    return Matrix.validated(frame, signature) if signature.numeric else frame


def _plain_matrix(body: Any, signature: Signature) -> np.ndarray | None:
    """The matrix of a body whose input values are all JSON numbers or null, else None."""
    if any(c.dtype == "bool" for c in signature.inputs):
        return None  # true/false and 0/1 rules: Signature.validate's
    names = signature.input_names
    if type(body) is dict and "records" in body:
        body = body["records"]
    try:
        if type(body) is list:
            values = [[record[n] for n in names] for record in body]
            flat = chain.from_iterable(values)
        elif type(body) is dict and type(columns := body.get("columns")) is dict:
            values = [columns[n] for n in names]
            if len({len(v) for v in columns.values()}) != 1 or not all(
                type(v) is list for v in columns.values()
            ):
                return None
            flat = chain.from_iterable(values)
        else:
            return None
    except (KeyError, TypeError):  # a missing column, a record that is not an object
        return None
    if not values or not values[0] or not set(map(type, flat)) <= _NUMBERS:
        return None
    matrix = np.array(values, dtype=np.float64)  # null -> NaN
    return matrix if type(body) is list else np.ascontiguousarray(matrix.T)


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


def _check_scalars(values: Any, where: str) -> None:
    for row, value in enumerate(values):
        if isinstance(value, dict | list):
            raise InputError(f"{where}: values must be scalars; got {value!r} in row {row}")
