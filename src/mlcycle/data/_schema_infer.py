"""Inferring a column schema from a frame: dtypes, roles, leakage and id hints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

Kind = Literal["numeric", "categorical", "datetime", "text"]

#: An integer column with at most this many distinct values is treated as categorical.
MAX_CATEGORICAL_INTEGERS = 12
#: Rows on which column pairs are screened for summing to the target.
_LEAK_SCREEN_ROWS = 10_000
#: A text column with more distinct values than this share of rows is free text or an id.
MAX_CATEGORY_SHARE = 0.5


@dataclass(frozen=True)
class ColumnInfo:
    """What a column is: pandas dtype name, kind, null count and distinct count."""

    name: str
    dtype: str
    kind: Kind
    nulls: int
    distinct: int
    minimum: float | None = None
    maximum: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return dict(self.__dict__)


def _looks_like_datetime(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).head(200)
    if sample.empty or not sample.str.match(r"^\d{4}-\d{2}-\d{2}").all():
        return False
    return bool(pd.to_datetime(sample, errors="coerce").notna().all())


def column_kind(values: pd.Series) -> Kind:
    """Classify a column: numeric, categorical, datetime (ISO dates) or text."""
    if pd.api.types.is_bool_dtype(values):
        return "categorical"
    if pd.api.types.is_numeric_dtype(values):
        integer = pd.api.types.is_integer_dtype(values)
        few = values.nunique() <= MAX_CATEGORICAL_INTEGERS
        return "categorical" if integer and few else "numeric"
    if pd.api.types.is_datetime64_any_dtype(values) or _looks_like_datetime(values):
        return "datetime"
    share = values.nunique() / max(len(values), 1)
    return "text" if share > MAX_CATEGORY_SHARE and values.nunique() > 50 else "categorical"


def describe_column(name: str, values: pd.Series) -> ColumnInfo:
    """Return the :class:`ColumnInfo` of one column."""
    kind = column_kind(values)
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    return ColumnInfo(
        name=name,
        dtype=str(values.dtype),
        kind=kind,
        nulls=int(values.isna().sum()),
        distinct=int(values.nunique()),
        minimum=float(values.min()) if numeric and values.notna().any() else None,
        maximum=float(values.max()) if numeric and values.notna().any() else None,
    )


def infer_schema(frame: pd.DataFrame) -> dict[str, ColumnInfo]:
    """Return the :class:`ColumnInfo` of every column, in column order."""
    return {str(c): describe_column(str(c), frame[c]) for c in frame.columns}


@dataclass(frozen=True)
class FeatureProposal:
    """Features proposed for a target, with warnings for the user.

    `numeric` and `categorical` are the proposed model inputs; `excluded`
    maps each left-out column to the reason; `warnings` are one-line notes.
    """

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    excluded: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def _is_identifier(values: pd.Series, info: ColumnInfo) -> bool:
    if info.distinct < 0.95 * len(values) or (info.kind == "numeric" and info.dtype[:5] == "float"):
        return False
    if pd.api.types.is_integer_dtype(values):
        return bool(values.is_monotonic_increasing or values.is_monotonic_decreasing)
    return info.kind in ("text", "categorical")


def _alone_predicts(values: pd.Series, target: pd.Series) -> bool:
    """Whether a column alone predicts the target almost perfectly (leak)."""
    both = pd.DataFrame({"x": values, "y": target}).dropna()
    if len(both) < 20:
        return False
    numeric = all(pd.api.types.is_numeric_dtype(both[c]) for c in ("x", "y"))
    if numeric and both["x"].nunique() > 1 and both["y"].nunique() > 1:
        corr = np.corrcoef(both["x"].astype(float), both["y"].astype(float))[0, 1]
        if abs(corr) >= 0.99:
            return True
    # Every value of x maps to one value of y, and x is not just a near-id.
    purity = both.groupby("x")["y"].nunique().max() == 1
    return bool(purity and both["x"].nunique() < 0.5 * len(both))


def _sum_leaks(frame: pd.DataFrame, target: str, candidates: Sequence[str]) -> tuple[str, ...]:
    """Return a pair of numeric columns that sums to the target on every row, if any.

    Pairs are screened on the first rows and only a pair that passes there is
    checked on all rows, so wide, long files cost one pass per surviving pair.
    """
    if not pd.api.types.is_numeric_dtype(frame[target]):
        return ()
    head = frame.head(_LEAK_SCREEN_ROWS)
    for i, a in enumerate(candidates):
        for b in candidates[i + 1 :]:
            if _sums_to(head, a, b, target) and _sums_to(frame, a, b, target):
                return (a, b)
    return ()


def _sums_to(frame: pd.DataFrame, a: str, b: str, target: str) -> bool:
    total = (frame[a] + frame[b]).to_numpy(float)
    return bool(np.allclose(total, frame[target].to_numpy(float), equal_nan=False))


def propose_features(
    frame: pd.DataFrame, target: str, *, time_column: str | None = None
) -> FeatureProposal:
    """Propose model features for predicting `target` from `frame`.

    Leaves out the target, the time column, identifier-like columns
    (all-distinct, monotonic integers or strings), free text, datetimes,
    constant columns, columns that alone predict the target almost
    perfectly (|Pearson r| >= 0.99 or a pure many-to-one mapping), and
    numeric column pairs that sum to the target on every row.

    Raises:
        KeyError: never; callers check that `target` is a column.
    """
    schema = infer_schema(frame)
    excluded: dict[str, str] = {target: "target"}
    if time_column:
        excluded[time_column] = "time column"
    warnings: list[str] = []
    for name, info in schema.items():
        if name in excluded:
            continue
        reason = _exclusion_reason(frame, name, info, frame[target])
        if reason:
            excluded[name] = reason
            if "leak" in reason or "identifier" in reason:
                warnings.append(f"Column '{name}' left out: {reason}")
    numeric_left = [n for n, i in schema.items() if n not in excluded and i.kind == "numeric"]
    for col in _sum_leaks(frame, target, numeric_left + _int_categoricals(schema, excluded)):
        excluded[col] = "likely target leakage: it sums with another column to the target"
        warnings.append(f"Column '{col}' left out: {excluded[col]}")
    numeric = tuple(n for n, i in schema.items() if n not in excluded and i.kind == "numeric")
    categorical = tuple(
        n for n, i in schema.items() if n not in excluded and i.kind == "categorical"
    )
    return FeatureProposal(numeric, categorical, excluded, tuple(warnings))


def _int_categoricals(schema: dict[str, ColumnInfo], excluded: dict[str, str]) -> list[str]:
    return [n for n, i in schema.items() if n not in excluded and i.dtype.startswith("int")]


def _exclusion_reason(frame: pd.DataFrame, name: str, info: ColumnInfo, target: pd.Series) -> str:
    if info.distinct <= 1:
        return "constant"
    if info.kind == "datetime":
        return "date or time (use it as the time column)"
    if _is_identifier(frame[name], info):
        return "identifier-like (a distinct value on almost every row)"
    if info.kind == "text":
        return "free text (too many distinct values)"
    if _alone_predicts(frame[name], target):
        return "likely target leakage: it alone predicts the target almost perfectly"
    return ""
