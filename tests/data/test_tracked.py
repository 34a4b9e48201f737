"""Tracked files and folders: hash, store, restore, add with pointer files and versions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlcycle.core import DataError, NotFound, hash_bytes, hash_file
from mlcycle.data import (
    BIKE_SHARING_CSV,
    add_paths,
    hash_path,
    read_pointer,
    restore_path,
    store_path,
)
from mlcycle.data._manifest import Manifest, ManifestEntry
from mlcycle.store import Workspace


def _folder(root: Path, n: int = 5) -> Path:
    for i in range(n):
        (root / "sub" / str(i % 2)).mkdir(parents=True, exist_ok=True)
        (root / "sub" / str(i % 2) / f"f{i}.bin").write_bytes(bytes([i]) * (1000 + i))
    (root / "top.txt").write_text("top\n")
    return root


def test_hash_of_a_file_and_a_folder(workspace: Workspace) -> None:
    folder = _folder(workspace.root / "data")
    hashed = hash_path(workspace, folder)
    entries = [
        ManifestEntry(p.relative_to(folder).as_posix(), hash_file(p), p.stat().st_size)
        for p in folder.rglob("*")
        if p.is_file()
    ]
    assert hashed.kind == "dir" and hashed.files == 6
    assert hashed.oid == Manifest.of(entries).oid
    assert hashed.size == sum(e.size for e in entries)
    one = hash_path(workspace, folder / "top.txt")
    assert (one.kind, one.oid, one.size, one.files) == ("file", hash_bytes(b"top\n"), 4, 1)
    assert not any(workspace.objects.exists(e.oid) for e in entries), "hashing stores nothing"


def test_one_changed_file_changes_one_entry(workspace: Workspace) -> None:
    folder = _folder(workspace.root / "data")
    before = hash_path(workspace, folder).manifest
    (folder / "sub" / "0" / "f0.bin").write_bytes(b"changed")
    after = hash_path(workspace, folder).manifest
    assert before is not None and after is not None
    differ = [a.path for a, b in zip(before.entries, after.entries, strict=True) if a != b]
    assert differ == ["sub/0/f0.bin"]


def test_store_then_restore_round_trip(workspace: Workspace, tmp_path: Path) -> None:
    folder = _folder(workspace.root / "data")
    stored = store_path(workspace, folder)
    copy = workspace.root / "copy"
    restore_path(workspace, "dir", stored.oid, copy)
    assert hash_path(workspace, copy).oid == stored.oid
    assert (copy / "top.txt").read_text() == "top\n"
    (folder / "top.txt").unlink()
    restore_path(workspace, "dir", stored.oid, folder)  # swaps the folder
    assert hash_path(workspace, folder) == stored
    assert [p.name for p in workspace.root.iterdir() if p.name.startswith(".data")] == []


def test_restore_of_a_missing_object_is_not_found(workspace: Workspace) -> None:
    with pytest.raises(NotFound):
        restore_path(workspace, "file", "ab" * 32, workspace.root / "x")
    assert not (workspace.root / "x").exists()


def test_add_writes_pointer_gitignore_and_version(workspace: Workspace) -> None:
    (workspace.root / "data").mkdir()
    csv = workspace.root / "data" / "hour.csv"
    csv.write_bytes(BIKE_SHARING_CSV.read_bytes())
    [version] = add_paths(workspace, [csv])
    assert (version.dataset, version.version, version.rows) == ("data/hour.csv", 1, 17_379)
    assert version.kind == "file" and version.object_id == hash_file(BIKE_SHARING_CSV)
    assert "temp" in version.schema
    pointer = read_pointer(workspace.root / "data" / "hour.csv.mlc")
    assert (pointer.path, pointer.oid, pointer.files) == ("hour.csv", version.object_id, 1)
    assert add_paths(workspace, [csv]) == [version], "same bytes, same version"
    gitignore = (workspace.root / "data" / ".gitignore").read_text()
    assert gitignore.splitlines() == ["/hour.csv"]


def test_add_folder_then_new_version(workspace: Workspace) -> None:
    folder = _folder(workspace.root / "imgs")
    [v1] = add_paths(workspace, [folder])
    (folder / "new.bin").write_bytes(b"new")
    [v2] = add_paths(workspace, [folder])
    assert (v1.kind, v1.files, v1.rows, v2.version, v2.files) == ("dir", 6, None, 2, 7)
    assert read_pointer(workspace.root / "imgs.mlc").oid == v2.object_id


@pytest.mark.parametrize("where", ["outside", ".mlcycle", "root"])
def test_paths_outside_the_workspace_are_refused(
    workspace: Workspace, tmp_path: Path, where: str
) -> None:
    target = {
        "outside": tmp_path / "elsewhere.csv",
        ".mlcycle": workspace.state_dir / "mlcycle.db",
        "root": workspace.root,
    }[where]
    if where == "outside":
        target.write_text("a\n1\n")
    with pytest.raises(DataError, match=str(target.name) if where != "root" else "outside"):
        add_paths(workspace, [target])


def test_a_file_inside_a_tracked_folder_is_refused(workspace: Workspace) -> None:
    folder = _folder(workspace.root / "data")
    add_paths(workspace, [folder])
    with pytest.raises(DataError, match=r"part of the tracked folder .*data\.mlc"):
        add_paths(workspace, [folder / "top.txt"])


def test_missing_path_is_a_data_error(workspace: Workspace) -> None:
    with pytest.raises(DataError, match=r"nope\.csv does not exist"):
        add_paths(workspace, [workspace.root / "nope.csv"])


def test_nonsense_pointer_names_file_and_field(workspace: Workspace) -> None:
    from mlcycle.data import status

    f = workspace.root / "a.txt"
    f.write_text("a")
    add_paths(workspace, [f])
    pointer = workspace.root / "a.txt.mlc"
    pointer.write_text(pointer.read_text().replace("size:", "size: lots #"))
    with pytest.raises(DataError, match=r"a\.txt\.mlc: field 'size'"):
        status(workspace)
    os.chmod(f, 0o644)


@pytest.mark.parametrize("size", [0, 1, 1023, 1 << 10, (1 << 20) - 1, 1 << 20, (8 << 20) + 5])
def test_digest_matches_hash_file_on_both_sides_of_the_thresholds(
    tmp_path: Path, size: int
) -> None:
    from mlcycle.data._tracked import digest

    f = tmp_path / "f.bin"
    f.write_bytes(os.urandom(size))
    assert digest(str(f), size) == hash_file(f) == hash_bytes(f.read_bytes())


def test_store_path_stores_every_file_once_and_the_manifest(workspace: Workspace) -> None:
    folder = _folder(workspace.root / "data")
    (folder / "twin.bin").write_bytes(bytes([3]) * 1003)  # the same bytes as sub/1/f3.bin
    stored = store_path(workspace, folder)
    assert stored.manifest is not None and stored.files == 7
    oids = {e.oid for e in stored.manifest.entries}
    assert len(oids) == 6
    assert all(workspace.objects.exists(o) for o in oids | {stored.oid})
    objects = Path(workspace.objects.root)
    assert [p for p in objects.rglob("*.tmp")] == []
    assert store_path(workspace, folder) == stored  # all cached: nothing to place


def test_a_file_that_changes_after_hashing_fails_the_add(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlcycle.data import _tracked

    folder = _folder(workspace.root / "data")
    real = _tracked.digest

    def digest_then_edit(path: str, size: int) -> str:
        oid = real(path, size)
        if path.endswith("f2.bin"):
            with open(path, "ab") as f:
                f.write(b"edited after hashing")
        return oid

    monkeypatch.setattr(_tracked, "digest", digest_then_edit)
    with pytest.raises(DataError, match=r"f2\.bin changed while it was being added"):
        store_path(workspace, folder)
    assert not workspace.objects.exists(hash_bytes(bytes([2]) * 1002))
