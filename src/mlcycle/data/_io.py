"""Reading tabular files (CSV, Parquet) into pandas frames with clear errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlcycle.core import DataError

TABULAR_SUFFIXES = (".csv", ".parquet", ".pq")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame of shape (n_rows, n_columns).

    Raises:
        DataError: if the file is missing, empty, not CSV/Parquet, or unparsable.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"Data file '{p}' does not exist")
    if p.stat().st_size == 0:
        raise DataError(f"Data file '{p}' is empty")
    suffix = p.suffix.lower()
    if suffix not in TABULAR_SUFFIXES:
        raise DataError(f"Data file '{p}' must be CSV or Parquet; got '{suffix or 'no suffix'}'")
    try:
        frame = pd.read_csv(p) if suffix == ".csv" else pd.read_parquet(p)
    except (ValueError, OSError, pd.errors.ParserError) as err:
        first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"Data file '{p}' cannot be read: {first_line}") from None
    if frame.empty:
        raise DataError(f"Data file '{p}' has no data rows")
    return frame
