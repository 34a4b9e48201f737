"""Declared data expectations (`data.expectations` in `mlcycle.yaml`), checked with pandera.

Each column may declare a kind of dtype, nullability, an inclusive range,
the allowed values and uniqueness (:class:`mlcycle.core.ColumnExpectation`).
Dtypes are kinds, not widths: `int` accepts any integer dtype and a float
column whose values are all whole (CSV readers turn an integer column
with gaps into floats); `float` accepts integers too; `datetime` accepts a
datetime column or text that parses as dates. Every check runs (pandera's
lazy validation), so one report lists all failures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
from pandas.api import types as ptypes

from mlcycle.core import ColumnExpectation, ExpectationsFailed

if TYPE_CHECKING:
    import pandera.pandas as pa

Failure = dict[str, object]
SHOWN = 5


def check_expectations(
    frame: pd.DataFrame, expectations: Mapping[str, ColumnExpectation], source: str
) -> None:
    """Check `frame` (n_rows, n_columns) against `expectations`; return if all hold.

    Args:
        frame: the data; its index labels are the row numbers reported.
        expectations: column name to what its values must satisfy.
        source: what the data is (a file name), for the message.

    Raises:
        ExpectationsFailed: naming `source`, the first failing column and
            check, up to 5 offending values with their rows, and how many
            more failures there are; `failures` lists them all.
    """
    failures = expectation_failures(frame, expectations)
    if failures:
        raise ExpectationsFailed(_message(source, failures), failures)


def expectation_failures(
    frame: pd.DataFrame, expectations: Mapping[str, ColumnExpectation]
) -> list[Failure]:
    """Every failed check as a dict (`column`, `check`, `failure_case`, `index`),
    ordered by column as `expectations` declares them."""
    import pandera.pandas as pa
    from pandera.errors import SchemaErrors

    failures: list[Failure] = []
    columns: dict[str, pa.Column] = {}
    for name, expect in expectations.items():
        if name not in frame.columns:
            failures.append(_failure(name, "column_in_dataframe", name, None))
            continue
        kind_checks = _dtype_checks(frame[name], expect)
        if kind_checks is None:
            failures.append(_failure(name, f"dtype('{expect.dtype}')", str(frame[name].dtype)))
            continue
        columns[name] = _column(expect, kind_checks)
    try:
        pa.DataFrameSchema(columns).validate(frame, lazy=True)
    except SchemaErrors as err:
        failures.extend(_from_pandera(err.failure_cases))
    order = {name: i for i, name in enumerate(expectations)}
    return sorted(failures, key=lambda f: order.get(str(f["column"]), len(order)))


def _failure(column: str, check: str, case: object, index: object = None) -> Failure:
    return {"column": column, "check": check, "failure_case": case, "index": index}


def _column(expect: ColumnExpectation, checks: list[pa.Check]) -> pa.Column:
    import pandera.pandas as pa

    if expect.minimum is not None and expect.maximum is not None:
        checks.append(pa.Check.in_range(expect.minimum, expect.maximum))
    elif expect.minimum is not None:
        checks.append(pa.Check.ge(expect.minimum))
    elif expect.maximum is not None:
        checks.append(pa.Check.le(expect.maximum))
    if expect.allowed is not None:
        checks.append(pa.Check.isin(list(expect.allowed)))
    return pa.Column(checks=checks, nullable=expect.nullable, unique=expect.unique)


def _dtype_checks(series: pd.Series[Any], expect: ColumnExpectation) -> list[pa.Check] | None:
    """Value checks that complete the dtype check, or None if the dtype is of the wrong kind."""
    import pandera.pandas as pa

    dtype, is_int = series.dtype, ptypes.is_integer_dtype(series.dtype)
    if expect.dtype is None:
        return []
    if expect.dtype == "int" and ptypes.is_float_dtype(dtype):
        return [pa.Check(_whole, element_wise=True, name="whole_number")]
    if expect.dtype == "datetime" and ptypes.is_string_dtype(dtype):
        return [pa.Check(_parses_as_dates, name="parses_as_datetime")]
    accepts: dict[str, Callable[[Any], bool]] = {
        "int": lambda _: is_int,
        "float": lambda d: ptypes.is_float_dtype(d) or is_int,
        "str": ptypes.is_string_dtype,
        "bool": ptypes.is_bool_dtype,
        "datetime": ptypes.is_datetime64_any_dtype,
    }
    return [] if accepts[expect.dtype](dtype) else None


def _whole(value: Any) -> bool:
    return float(value).is_integer()


def _parses_as_dates(series: pd.Series[Any]) -> pd.Series[bool]:
    # format="mixed" parses each value on its own, so one odd row fails alone.
    return pd.to_datetime(series, errors="coerce", format="mixed").notna()


def _from_pandera(cases: pd.DataFrame) -> list[Failure]:
    return [
        _failure(str(row.column), str(row.check), _plain(row.failure_case), _plain(row.index))
        for row in cases.itertuples(index=False)
    ]


def _plain(value: Any) -> object:
    """A numpy scalar as the Python value (for JSON and messages); missing as None."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _message(source: str, failures: list[Failure]) -> str:
    first = failures[0]
    column, check = first["column"], first["check"]
    same = [f for f in failures if f["column"] == column and f["check"] == check][:SHOWN]
    if first["index"] is None and check != "not_nullable":
        got = f"got {first['failure_case']}"
    else:
        got = "; ".join(f"{f['failure_case']!r} in row {f['index']}" for f in same)
    more = len(failures) - len(same)
    tail = f" (and {more} more)" if more else ""
    return (
        f"{source}: column '{column}' fails {check}: {got}{tail}. "
        f"Fix the data or 'data.expectations.{column}' in mlcycle.yaml"
    )
