"""Data quality of a window against the reference.

Missing values, new or vanished categories, values out of the reference
range, schema changes and duplicated rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlcycle.monitoring._jsonsafe import json_safe


@dataclass(frozen=True)
class ColumnQuality:
    """Quality of one feature column.

    Attributes:
        column: the column name.
        missing_reference: share of nulls (and +-inf for numbers) in the reference, [0, 1].
        missing_current: the same in the current window; NaN if the window has no rows.
        out_of_range: numbers: share of the current finite values outside
            [reference min, reference max]; NaN for categories or no values.
        new_categories: categories in the current window only (sorted, as strings).
        vanished_categories: reference categories absent from the current window.
    """

    column: str
    missing_reference: float
    missing_current: float
    out_of_range: float = float("nan")
    new_categories: tuple[str, ...] = ()
    vanished_categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class QualityResult:
    """Quality of a current window.

    Attributes:
        columns: one :class:`ColumnQuality` per feature present on both sides.
        missing_columns: reference columns absent from the current window.
        new_columns: current columns absent from the reference.
        dtype_changes: column -> (reference dtype, current dtype), as strings.
        duplicated_rows: current rows equal to an earlier current row.
        n_current: rows in the current window.
    """

    columns: tuple[ColumnQuality, ...]
    missing_columns: tuple[str, ...]
    new_columns: tuple[str, ...]
    dtype_changes: dict[str, tuple[str, str]]
    duplicated_rows: int
    n_current: int

    @property
    def duplicated_share(self) -> float:
        """duplicated_rows / n_current (0.0 for an empty window)."""
        return self.duplicated_rows / self.n_current if self.n_current else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (NaN becomes None)."""
        out: dict[str, Any] = json_safe(asdict(self) | {"duplicated_share": self.duplicated_share})
        return out


def _missing(values: pd.Series) -> float:
    if len(values) == 0:
        return float("nan")
    missing = values.isna()
    if pd.api.types.is_numeric_dtype(values.dtype):
        missing |= np.isinf(values.to_numpy(dtype=np.float64, na_value=np.nan))
    return float(missing.mean())


def _numeric_quality(name: str, ref: pd.Series, cur: pd.Series) -> ColumnQuality:
    r = ref.to_numpy(dtype=np.float64, na_value=np.nan)
    c = cur.to_numpy(dtype=np.float64, na_value=np.nan)
    r, c = r[np.isfinite(r)], c[np.isfinite(c)]
    outside = float("nan")
    if r.size and c.size:
        outside = float(np.mean((c < r.min()) | (c > r.max())))
    return ColumnQuality(name, _missing(ref), _missing(cur), outside)


def _categorical_quality(name: str, ref: pd.Series, cur: pd.Series) -> ColumnQuality:
    before, after = set(ref.dropna().unique()), set(cur.dropna().unique())
    new = tuple(sorted(map(str, after - before)))
    gone = tuple(sorted(map(str, before - after))) if len(cur) else ()
    return ColumnQuality(name, _missing(ref), _missing(cur), float("nan"), new, gone)


def check_quality(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
) -> QualityResult:
    """Compare the current window's data quality with the reference's.

    Schema: columns missing from or new in the current window, and dtype
    changes of shared columns. Per feature present on both sides: missing
    rates, out-of-range share (numbers), new and vanished categories.
    Duplicated rows: ``current.duplicated()`` over all columns. An empty
    current window gives NaN rates and no vanished categories, never an error.

    Args:
        reference: the reference window, shape (n_reference, n_columns).
        current: the current window, shape (n_current, n_columns).
        numeric: numeric feature columns.
        categorical: categorical feature columns.

    Returns:
        A :class:`QualityResult`.
    """
    shared = [c for c in reference.columns if c in current.columns]
    dtypes = {
        c: (str(reference[c].dtype), str(current[c].dtype))
        for c in shared
        if reference[c].dtype != current[c].dtype
    }
    columns = [
        (_categorical_quality if name in categorical else _numeric_quality)(
            name, reference[name], current[name]
        )
        for name in [*numeric, *categorical]
        if name in shared
    ]
    return QualityResult(
        tuple(columns),
        tuple(c for c in reference.columns if c not in current.columns),
        tuple(c for c in current.columns if c not in reference.columns),
        dtypes,
        int(current.duplicated().sum()),
        len(current),
    )
