"""Tracked files and folders: hash, store, restore, add with pointer files and versions."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlcycle.core import DataError, NotFound, hash_bytes, hash_file, parse_config
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


@pytest.fixture
def linking(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace that hard-links files into its cache (so hashes, then places each)."""
    ws = Workspace(tmp_path / "linking", parse_config({"cache": {"link": ["hardlink", "copy"]}}))
    yield ws
    ws.close()


def test_a_file_that_changes_after_hashing_fails_the_add(
    linking: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlcycle.data import _tracked

    workspace = linking
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


@pytest.fixture(params=[["copy"], ["reflink", "copy"]], ids=["copy", "reflink_copy"])
def copying(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Workspace]:
    """A workspace whose cache takes copies (reflink falls back to copy on ext4)."""
    ws = Workspace(tmp_path / "copying", parse_config({"cache": {"link": request.param}}))
    yield ws
    ws.close()


def test_store_path_copying_stores_what_hash_path_names(copying: Workspace) -> None:
    folder = _folder(copying.root / "data")
    (folder / "big.bin").write_bytes(os.urandom(9 << 20))  # copied while hashed
    (folder / "twin.bin").write_bytes(bytes([3]) * 1003)
    order: list[str] = []
    stored = store_path(copying, folder, progress=lambda n: order.append(str(n)))
    assert stored == hash_path(copying, folder) and stored.manifest is not None
    assert order == [str(s.stat.st_size) for s in stored.states]  # in path order
    for e in stored.manifest.entries:
        cached = copying.objects.path_of(e.oid)
        assert cached is not None and cached.read_bytes() == (folder / e.path).read_bytes()
        assert cached.stat().st_mode & 0o777 == 0o444
        assert cached.stat().st_ino != (folder / e.path).stat().st_ino
    files = sorted(p.name for p in Path(copying.objects.root).rglob("*") if p.is_file())
    assert files == sorted({e.oid[2:] for e in stored.manifest.entries} | {stored.oid[2:]})


def test_a_file_that_changes_after_listing_fails_a_copying_add(
    copying: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlcycle.data import _tracked

    folder = _folder(copying.root / "data")
    real = _tracked._scan

    def scan_then_edit(path: Path) -> tuple[_tracked.Kind, list[tuple[str, str, os.stat_result]]]:
        found = real(path)
        with open(folder / "sub" / "0" / "f2.bin", "ab") as f:
            f.write(b"edited after listing")
        return found

    monkeypatch.setattr(_tracked, "_scan", scan_then_edit)
    with pytest.raises(DataError, match=r"f2\.bin changed while it was being added"):
        store_path(copying, folder)
    edited = (folder / "sub" / "0" / "f2.bin").read_bytes()
    assert not copying.objects.exists(hash_bytes(edited))
    assert not copying.objects.exists(hash_bytes(bytes([2]) * 1002))


def test_a_touched_large_file_is_hashed_before_it_is_copied_again(
    copying: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-adding a large file whose mtime changed but not its bytes copies nothing; a
    real change to it is still copied in."""
    from mlcycle.store import ObjectStore

    big = copying.root / "big.bin"
    big.write_bytes(os.urandom(9 << 20))
    os.utime(big, (1_000, 1_000))  # old enough for the stat cache to remember it
    first = store_path(copying, big)
    os.utime(big, (2_000, 2_000))  # touched: the stat cache no longer vouches for it

    def no_copy(*_: object) -> str:
        raise AssertionError("a touched file was copied")

    monkeypatch.setattr(ObjectStore, "copy_hashing", no_copy)
    assert store_path(copying, big) == first
    with open(big, "r+b") as f:
        f.write(b"changed")
    changed = store_path(copying, big)
    assert changed.oid != first.oid and changed.oid == hash_file(big)
    cached = copying.objects.path_of(changed.oid)
    assert cached is not None and cached.read_bytes() == big.read_bytes()


def test_linking_many_files_hashes_on_threads_and_links_each_in_order(linking: Workspace) -> None:
    """With hard links, files hashed on the threads are linked in by the calling thread,
    in path order; twins are stored once and a second add links nothing new."""
    folder = _folder(linking.root / "data", n=200)
    (folder / "twin.bin").write_bytes((folder / "sub" / "0" / "f2.bin").read_bytes())
    order: list[int] = []
    stored = store_path(linking, folder, progress=order.append)
    assert stored == hash_path(linking, folder) and stored.manifest is not None
    assert order == [s.stat.st_size for s in stored.states]
    for e in stored.manifest.entries:
        cached = linking.objects.path_of(e.oid)
        assert cached is not None and cached.read_bytes() == (folder / e.path).read_bytes()
    source = folder / "sub" / "1" / "f7.bin"
    assert linking.objects.path_of(hash_file(source)).stat().st_ino == source.stat().st_ino  # type: ignore[union-attr]
    assert store_path(linking, folder) == stored
