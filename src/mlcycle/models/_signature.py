"""Model signatures: the input columns and dtypes a model accepts, and its output.

Validation turns untrusted input (JSON records, a CSV) into exactly the
frame the model was trained on, or raises :class:`SignatureError` naming
the column, the expected dtype, the value and its row, e.g.
"Column 'temp' must be float64; got 'warm' in row 3."
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlcycle.core import SignatureError

Dtype = Literal["float64", "int64", "bool", "string"]


def dtype_of(values: pd.Series) -> Dtype:
    """Map a pandas column to the signature dtype that describes it."""
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_integer_dtype(values):
        return "int64"
    if pd.api.types.is_numeric_dtype(values):
        return "float64"
    return "string"


@dataclass(frozen=True)
class ColumnSpec:
    """One named column and its dtype."""

    name: str
    dtype: Dtype


@dataclass(frozen=True)
class Signature:
    """What a model takes and gives.

    Attributes:
        inputs: the input columns, in the order the model expects them.
        output: the prediction column (`float64` for regression, the
            label's dtype for classification).
        classes: the class labels, in the order of predicted probabilities
            (classification only).
    """

    inputs: tuple[ColumnSpec, ...]
    output: ColumnSpec
    classes: tuple[Any, ...] | None = None

    @classmethod
    def infer(
        cls, features: pd.DataFrame, target: pd.Series, *, classes: Sequence[Any] | None = None
    ) -> Signature:
        """The signature of a model trained on `features` (n_rows, n_features) and `target`."""
        inputs = tuple(ColumnSpec(str(c), dtype_of(features[c])) for c in features.columns)
        output = ColumnSpec(str(target.name or "prediction"), dtype_of(target))
        return cls(
            inputs, output, tuple(_plain(c) for c in classes) if classes is not None else None
        )

    @property
    def input_names(self) -> list[str]:
        """Input column names in model order."""
        return [c.name for c in self.inputs]

    @property
    def numeric(self) -> bool:
        """Whether every input is float64, int64 or bool, so that :meth:`validate`'s
        result is one float64 matrix (n_rows, n_inputs)."""
        return all(c.dtype != "string" for c in self.inputs)

    def to_dict(self) -> dict[str, Any]:
        """Return a YAML/JSON-safe dict."""
        out: dict[str, Any] = {
            "inputs": [c.__dict__ for c in self.inputs],
            "output": self.output.__dict__,
        }
        if self.classes is not None:
            out["classes"] = list(self.classes)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        """Inverse of :meth:`to_dict`."""
        classes = data.get("classes")
        return cls(
            tuple(ColumnSpec(**c) for c in data["inputs"]),
            ColumnSpec(**data["output"]),
            tuple(classes) if classes is not None else None,
        )

    def validate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return `frame`'s input columns, in model order, coerced to their dtypes.

        Extra columns are ignored. Missing values are allowed (as NaN).

        Raises:
            SignatureError: if a column is missing or holds a value of the wrong type.
        """
        missing = [c.name for c in self.inputs if c.name not in frame.columns]
        if missing:
            raise SignatureError(
                f"Column '{missing[0]}' is missing from the input "
                f"(the model needs: {', '.join(self.input_names)})"
            )
        return pd.DataFrame({c.name: _coerce(frame[c.name], c) for c in self.inputs})


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _bad_value(values: pd.Series, spec: ColumnSpec, ok: pd.Series) -> SignatureError:
    pos = int(np.flatnonzero(~ok.to_numpy())[0])
    return SignatureError(
        f"Column '{spec.name}' must be {spec.dtype}; got {_plain(values.iloc[pos])!r} in row {pos}"
    )


def _coerce(values: pd.Series, spec: ColumnSpec) -> pd.Series:
    if spec.dtype == "string":
        return values.astype(object).where(values.notna(), np.nan)
    if spec.dtype == "bool":
        if pd.api.types.is_bool_dtype(values):
            return values.astype(float)
        ok = values.isna() | values.isin([True, False, 0, 1])
        if not ok.all():
            raise _bad_value(values, spec, ok)
        return values.astype(float)
    if pd.api.types.is_bool_dtype(values) or not _is_number_like(values):
        numbers = pd.to_numeric(values, errors="coerce")
        is_bool = values.map(lambda v: isinstance(v, (bool, np.bool_))).astype(bool)
        ok = (numbers.notna() | values.isna()) & ~is_bool
        if not ok.all():
            raise _bad_value(values, spec, ok)
        values = numbers
    return values.astype("float64")


def _is_number_like(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
