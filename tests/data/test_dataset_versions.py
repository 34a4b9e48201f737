"""Dataset versions: snapshots of the bike CSV on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlcycle.core import DataError, DatasetNotFound, InputError, IntegrityError, hash_file
from mlcycle.data import (
    BIKE_SHARING_CSV,
    get_dataset_version,
    list_dataset_versions,
    load_dataset_version,
    parse_ref,
    snapshot,
)
from mlcycle.store import Workspace

BIKE_ROWS = 17_379


def test_snapshot_bike_csv(any_workspace: Workspace) -> None:
    dv = snapshot(any_workspace, BIKE_SHARING_CSV)
    assert dv.dataset == "hour"
    assert dv.version == 1
    assert dv.ref == "hour@v1"
    assert dv.rows == BIKE_ROWS
    assert dv.object_id == hash_file(BIKE_SHARING_CSV)
    assert dv.size == BIKE_SHARING_CSV.stat().st_size
    assert any_workspace.objects.exists(dv.object_id)
    kinds = {name: col["kind"] for name, col in dv.schema.items()}
    assert list(kinds)[::16] == ["instant", "cnt"]  # column order kept
    assert len(kinds) == 17
    assert kinds["dteday"] == "datetime"
    assert kinds["temp"] == kinds["hum"] == kinds["cnt"] == "numeric"
    assert kinds["season"] == kinds["weathersit"] == kinds["mnth"] == "categorical"
    assert dv.schema["temp"]["nulls"] == 0
    assert dv.schema["hr"]["minimum"] == 0 and dv.schema["hr"]["maximum"] == 23
    assert dv.to_dict()["ref"] == "hour@v1"


def test_same_bytes_same_version_changed_bytes_next(
    any_workspace: Workspace, tmp_path: Path
) -> None:
    first = snapshot(any_workspace, BIKE_SHARING_CSV, name="bike")
    copy = tmp_path / "copy.csv"
    copy.write_bytes(BIKE_SHARING_CSV.read_bytes())
    again = snapshot(any_workspace, copy, name="bike")
    assert again == first  # same bytes from another path: same version

    lines = BIKE_SHARING_CSV.read_text().splitlines(keepends=True)
    changed = tmp_path / "changed.csv"
    changed.write_text("".join(lines[:-100]))
    second = snapshot(any_workspace, changed, name="bike")
    assert (second.version, second.rows) == (2, BIKE_ROWS - 100)
    assert second.object_id != first.object_id

    assert get_dataset_version(any_workspace, "bike") == second  # latest
    assert get_dataset_version(any_workspace, "bike@v1") == first
    assert get_dataset_version(any_workspace, "bike@2") == second
    assert [v.version for v in list_dataset_versions(any_workspace, "bike")] == [2, 1]
    # Same bytes under another name is another dataset, starting at v1.
    assert snapshot(any_workspace, changed, name="other").ref == "other@v1"
    assert len(list_dataset_versions(any_workspace)) == 3


def test_load_dataset_version_round_trip(any_workspace: Workspace, bike: pd.DataFrame) -> None:
    snapshot(any_workspace, BIKE_SHARING_CSV)
    frame = load_dataset_version(any_workspace, "hour@v1")
    pd.testing.assert_frame_equal(frame, bike)


def test_load_corrupt_dataset_version_raises(workspace: Workspace) -> None:
    dv = snapshot(workspace, BIKE_SHARING_CSV)
    obj = Path(workspace.objects.root) / dv.object_id[:2] / dv.object_id[2:]
    obj.write_bytes(b"a,b\n1,2\n")
    with pytest.raises(IntegrityError):
        load_dataset_version(workspace, dv.ref)
    cache = workspace.state_dir / "datasets"
    assert not cache.exists() or list(cache.iterdir()) == []


def test_unknown_dataset_or_version_not_found(workspace: Workspace) -> None:
    with pytest.raises(DatasetNotFound, match="'nope' does not exist"):
        get_dataset_version(workspace, "nope")
    snapshot(workspace, BIKE_SHARING_CSV)
    with pytest.raises(DatasetNotFound) as info:
        get_dataset_version(workspace, "hour@v9")
    assert str(info.value) == "Dataset version 'hour@v9' does not exist"
    with pytest.raises(KeyError):
        load_dataset_version(workspace, "hour@v2")


@pytest.mark.parametrize(
    ("ref", "expected"),
    [("hour@v3", ("hour", 3)), ("hour@3", ("hour", 3)), ("hour", ("hour", None))],
)
def test_parse_ref(ref: str, expected: tuple[str, int | None]) -> None:
    assert parse_ref(ref) == expected


@pytest.mark.parametrize("ref", ["x@vfoo", "x@v0", "x@v-1", "x@1.5"])
def test_parse_ref_bad_version_is_input_error(ref: str) -> None:
    with pytest.raises(InputError, match=f"'{ref}'"):
        parse_ref(ref)


def test_get_dataset_version_bad_ref_is_input_error(workspace: Workspace) -> None:
    with pytest.raises(InputError):
        get_dataset_version(workspace, "x@vfoo")


def test_snapshot_of_missing_file_records_nothing(workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        snapshot(workspace, tmp_path / "missing.csv")
    assert list_dataset_versions(workspace) == []
