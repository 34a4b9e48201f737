"""read_table: CSV and Parquet in, clear errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlcycle.core import DataError
from mlcycle.data import read_table


def test_reads_csv_and_parquet(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"], "c": [0.5, 1.5, np.nan]})
    frame.to_csv(tmp_path / "f.csv", index=False)
    pd.testing.assert_frame_equal(read_table(tmp_path / "f.csv"), frame)
    frame.to_parquet(tmp_path / "f.parquet")
    pd.testing.assert_frame_equal(read_table(tmp_path / "f.parquet"), frame)
    frame.to_parquet(tmp_path / "F.PQ")
    assert read_table(str(tmp_path / "F.PQ")).shape == (3, 3)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.csv"
    with pytest.raises(DataError, match="does not exist") as info:
        read_table(path)
    assert str(path) in str(info.value)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(DataError, match=r"dir\.csv"):
        read_table(tmp_path / "dir.csv")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(DataError, match="is empty") as info:
        read_table(path)
    assert str(path) in str(info.value)


def test_header_only_csv_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("a,b\n")
    with pytest.raises(DataError, match="has no data rows") as info:
        read_table(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("name", ["data.json", "data"])
def test_wrong_suffix(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="must be CSV or Parquet") as info:
        read_table(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("name", ["garbage.csv", "garbage.parquet"])
def test_garbage_bytes(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    rng = np.random.default_rng(7)
    path.write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(DataError, match="cannot be read") as info:
        read_table(path)
    assert str(path) in str(info.value)


def test_ragged_csv(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2\n3,4,5,6\n")
    with pytest.raises(DataError, match="cannot be read") as info:
        read_table(path)
    assert str(path) in str(info.value)
