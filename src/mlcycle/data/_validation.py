"""Validating a frame against the workspace's data config and a reference schema."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from mlcycle.core import DataConfig, DataError

Severity = Literal["error", "warning", "ok"]


@dataclass(frozen=True)
class Check:
    """One validation check: its name, the column, severity and a one-line detail."""

    name: str
    column: str
    severity: Severity
    detail: str


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of :func:`validate`: every check, errors first."""

    checks: tuple[Check, ...]

    @property
    def errors(self) -> tuple[Check, ...]:
        """Checks that failed hard."""
        return tuple(c for c in self.checks if c.severity == "error")

    @property
    def warnings(self) -> tuple[Check, ...]:
        """Checks that passed with a note."""
        return tuple(c for c in self.checks if c.severity == "warning")

    def raise_for_errors(self, source: str) -> None:
        """Raise :class:`DataError` with the first error, naming `source` and the column."""
        if self.errors:
            first = self.errors[0]
            more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
            raise DataError(f"{source}: column '{first.column}': {first.detail}{more}")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {"checks": [c.__dict__ for c in self.checks]}


def _numeric_check(frame: pd.DataFrame, col: str) -> Check:
    values = frame[col]
    if pd.api.types.is_numeric_dtype(values):
        return Check("dtype", col, "ok", str(values.dtype))
    coerced = pd.to_numeric(values, errors="coerce")
    bad = values[coerced.isna() & values.notna()]
    if bad.empty:
        return Check("dtype", col, "ok", "numeric text")
    row = int(bad.index[0])
    return Check(
        "dtype",
        col,
        "error",
        f"must be numeric; got {bad.iloc[0]!r} in row {row} ({len(bad)} such rows)",
    )


def _missing_check(frame: pd.DataFrame, col: str, *, is_target: bool) -> Check:
    missing = int(frame[col].isna().sum())
    if missing == 0:
        return Check("missing", col, "ok", "no missing values")
    share = missing / len(frame)
    if share == 1.0:
        return Check("missing", col, "error", "has only missing values")
    note = f"{missing} missing values ({share:.1%})"
    return Check("missing", col, "warning", note + (": rows dropped" if is_target else ""))


def _range_check(values: pd.Series, col: str, bounds: Mapping[str, Any]) -> Check:
    lo, hi = bounds.get("minimum"), bounds.get("maximum")
    if lo is None or hi is None or not pd.api.types.is_numeric_dtype(values):
        return Check("range", col, "ok", "no reference range")
    outside = int(((values < lo) | (values > hi)).sum())
    if outside == 0:
        return Check("range", col, "ok", f"within [{lo:g}, {hi:g}]")
    return Check("range", col, "warning", f"{outside} values outside [{lo:g}, {hi:g}]")


def validate(
    frame: pd.DataFrame,
    config: DataConfig,
    *,
    reference_schema: Mapping[str, Mapping[str, Any]] | None = None,
) -> ValidationReport:
    """Check a frame against the data config (and a reference schema's ranges).

    Checks: every configured column is present; numeric features and a
    regression target are numeric; missing values (an all-missing column
    is an error); values outside the reference schema's min/max.

    Returns:
        The report; call :meth:`ValidationReport.raise_for_errors` to stop on errors.
    """
    checks: list[Check] = []
    for col in (*config.features, config.target):
        if col not in frame.columns:
            checks.append(Check("schema", col, "error", "is missing from the data"))
            continue
        checks.append(_missing_check(frame, col, is_target=col == config.target))
        numeric = col in config.numeric or (col == config.target and config.task == "regression")
        if numeric:
            checks.append(_numeric_check(frame, col))
        if reference_schema and col in reference_schema:
            checks.append(_range_check(frame[col], col, reference_schema[col]))
    order = {"error": 0, "warning": 1, "ok": 2}
    return ValidationReport(tuple(sorted(checks, key=lambda c: order[c.severity])))
