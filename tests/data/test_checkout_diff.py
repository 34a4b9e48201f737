"""`checkout`, `diff` and `log` over versions of a file and a folder."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from mlcycle.core import DataError, DatasetNotFound
from mlcycle.data import (
    BIKE_SHARING_CSV,
    add_paths,
    checkout,
    diff,
    hash_path,
    log,
    read_pointer,
)
from mlcycle.store import Workspace


@pytest.fixture
def csv_versions(workspace: Workspace) -> Path:
    """`hour.csv` as v1 (the bike data) and v2 (100 rows fewer, one column dropped, one added)."""
    path = workspace.root / "hour.csv"
    path.write_bytes(BIKE_SHARING_CSV.read_bytes())
    add_paths(workspace, [path])
    frame = pd.read_csv(BIKE_SHARING_CSV).iloc[:-100].drop(columns=["casual"])
    frame["extra"] = 1
    os.chmod(path, 0o644)
    path.unlink()  # the old file may be a read-only hard link to the cache
    frame.to_csv(path, index=False)
    add_paths(workspace, [path])
    return path


def test_log_marks_the_current_version(workspace: Workspace, csv_versions: Path) -> None:
    entries = log(workspace, csv_versions)
    assert [(e.version.version, e.current) for e in entries] == [(2, True), (1, False)]
    with pytest.raises(DatasetNotFound):
        log(workspace, workspace.root / "never.csv")


def test_checkout_restores_a_version_and_rewrites_the_pointer(
    workspace: Workspace, csv_versions: Path
) -> None:
    [v2, v1] = [e.version for e in log(workspace, csv_versions)]
    pointer = checkout(workspace, "hour.csv@v1")
    assert pointer.oid == v1.object_id == hash_path(workspace, csv_versions).oid
    assert read_pointer(workspace.root / "hour.csv.mlc").oid == v1.object_id
    checkout(workspace, f"hour.csv@{v2.object_id[:8]}")
    assert hash_path(workspace, csv_versions).oid == v2.object_id
    os.chmod(csv_versions, 0o644)
    csv_versions.unlink()
    checkout(workspace, "hour.csv")  # what the pointer says, like `dvc checkout`
    assert hash_path(workspace, csv_versions).oid == v2.object_id


def test_checkout_refuses_to_drop_uncached_changes(
    workspace: Workspace, csv_versions: Path
) -> None:
    os.chmod(csv_versions, 0o644)
    csv_versions.unlink()
    csv_versions.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="changes that are not in the cache"):
        checkout(workspace, "hour.csv@v1")
    assert csv_versions.read_text() == "a,b\n1,2\n"
    checkout(workspace, "hour.csv@v1", force=True)
    assert len(pd.read_csv(csv_versions)) == 17_379


def test_diff_of_a_table(workspace: Workspace, csv_versions: Path) -> None:
    result = diff(workspace, "hour.csv@v1", "hour.csv@v2")
    assert result.modified == ("hour.csv",) and result.added == result.removed == ()
    table = result.table
    assert table is not None
    assert (table.rows_a, table.rows_b) == (17_379, 17_279)
    assert (table.columns_added, table.columns_removed) == (("extra",), ("casual",))
    assert (table.rows_added, table.rows_removed) == (0, 100)
    same = diff(workspace, "hour.csv@v2", "hour.csv")
    assert same.modified == () and same.table is None


def test_folder_checkout_swaps_and_diff_lists_files(workspace: Workspace) -> None:
    folder = workspace.root / "imgs"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "1.txt").write_text("one")
    (folder / "2.txt").write_text("two")
    add_paths(workspace, [folder])
    for p in folder.rglob("*.txt"):
        os.chmod(p, 0o644)
    (folder / "2.txt").unlink()
    (folder / "a" / "1.txt").unlink()
    (folder / "a" / "1.txt").write_text("ONE")
    (folder / "3.txt").write_text("three")
    add_paths(workspace, [folder])
    result = diff(workspace, "imgs@v1", "imgs@v2")
    assert (result.added, result.removed, result.modified) == (("3.txt",), ("2.txt",), ("a/1.txt",))
    checkout(workspace, "imgs@v1")
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.txt")) == [
        "2.txt",
        "a/1.txt",
    ]
    assert (folder / "a" / "1.txt").read_text() == "one"
    assert [p.name for p in workspace.root.iterdir() if p.name.startswith(".imgs")] == []
