"""The content-addressed object store: round trip, idempotence, corruption, layout."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlcycle.core import IntegrityError, NotFound, hash_bytes
from mlcycle.store import ObjectStore, Workspace

LAYOUT = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{62}$")


def _object_files(root: Path) -> list[str]:
    """Relative paths of every file under `root` except the temp folder."""
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.relative_to(root).parts[0] != "tmp"
    )


def _leftover_tmp(root: Path) -> list[Path]:
    return [p for p in (root / "tmp").rglob("*")] if (root / "tmp").exists() else []


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(str(tmp_path / "objects"))


def test_round_trip_bytes_and_file(store: ObjectStore, tmp_path: Path) -> None:
    data = np.random.default_rng(0).integers(0, 256, 100_000, dtype=np.uint8).tobytes()
    oid = store.put_bytes(data)
    assert oid == hash_bytes(data)
    assert store.exists(oid)
    assert store.get_bytes(oid) == data
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    assert store.put_file(src) == oid
    dest = tmp_path / "out" / "copy.bin"
    assert store.get_file(oid, dest) == dest
    assert dest.read_bytes() == data
    assert sorted(p.name for p in dest.parent.iterdir()) == ["copy.bin"]


def test_layout_is_two_level_hex(store: ObjectStore) -> None:
    oid = store.put_bytes(b"hello")
    root = Path(store.root)
    assert (root / oid[:2] / oid[2:]).read_bytes() == b"hello"
    assert _object_files(root) == [f"{oid[:2]}/{oid[2:]}"]


def test_put_is_idempotent(store: ObjectStore, tmp_path: Path) -> None:
    oid = store.put_bytes(b"same")
    path = Path(store.root) / oid[:2] / oid[2:]
    mtime = path.stat().st_mtime_ns
    assert store.put_bytes(b"same") == oid
    src = tmp_path / "f"
    src.write_bytes(b"same")
    assert store.put_file(src) == oid
    assert path.stat().st_mtime_ns == mtime  # not rewritten
    assert _object_files(Path(store.root)) == [f"{oid[:2]}/{oid[2:]}"]
    assert _leftover_tmp(Path(store.root)) == []


def _count_object_stats(monkeypatch: pytest.MonkeyPatch, root: Path) -> list[str]:
    """Record each `os.path.exists` call on a path under `root` (how a put checks)."""
    import os.path

    calls: list[str] = []
    real = os.path.exists

    def exists(path: object) -> bool:
        if str(path).startswith(str(root)):
            calls.append(str(path))
        return real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os.path, "exists", exists)
    return calls


def test_puts_into_new_fan_out_folders_skip_the_stat(
    store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(store.root)
    calls = _count_object_stats(monkeypatch, root)
    oids = [store.put_bytes(bytes([i]) * 1000) for i in range(50)]
    assert calls == []  # every fan-out folder was made by this store
    assert store.put_bytes(bytes([0]) * 1000) == oids[0]  # again: written, then dropped
    assert _object_files(root) == sorted(f"{o[:2]}/{o[2:]}" for o in set(oids))
    assert all(store.get_bytes(o) == bytes([i]) * 1000 for i, o in enumerate(oids))


def test_object_stored_by_another_process_meanwhile_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "objects"
    ours, theirs = ObjectStore(str(root)), ObjectStore(str(root))
    ours.put_bytes(b"first")  # ours has looked at the store: empty
    oid = theirs.put_bytes(b"shared")
    mtime = (root / oid[:2] / oid[2:]).stat().st_mtime_ns
    assert ours.put_bytes(b"shared") == oid  # their folder: written, dropped
    assert (root / oid[:2] / oid[2:]).stat().st_mtime_ns == mtime
    assert ours.get_bytes(oid) == b"shared"
    calls = _count_object_stats(monkeypatch, root)
    ours.put_bytes(b"shared")
    assert calls == [f"{root}/{oid[:2]}/{oid[2:]}"]  # a folder another made: checked first
    assert _leftover_tmp(root) == []


def _corrupt(store: ObjectStore, oid: str) -> None:
    (Path(store.root) / oid[:2] / oid[2:]).write_bytes(b"flipped bits")


def test_corrupt_object_get_bytes_raises(store: ObjectStore) -> None:
    oid = store.put_bytes(b"precious")
    _corrupt(store, oid)
    with pytest.raises(IntegrityError, match=oid):
        store.get_bytes(oid)


def test_corrupt_object_get_file_leaves_no_partial_file(store: ObjectStore, tmp_path: Path) -> None:
    oid = store.put_bytes(b"precious")
    _corrupt(store, oid)
    out = tmp_path / "out"
    with pytest.raises(IntegrityError, match="corrupt"):
        store.get_file(oid, out / "new.bin")
    assert list(out.iterdir()) == []


def test_corrupt_object_get_file_keeps_existing_destination(
    store: ObjectStore, tmp_path: Path
) -> None:
    oid = store.put_bytes(b"precious")
    _corrupt(store, oid)
    dest = tmp_path / "existing.bin"
    dest.write_bytes(b"older good copy")
    with pytest.raises(IntegrityError):
        store.get_file(oid, dest)
    assert dest.read_bytes() == b"older good copy"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.bin", "objects"]


def test_missing_object_raises_not_found(store: ObjectStore, tmp_path: Path) -> None:
    oid = hash_bytes(b"never stored")
    assert not store.exists(oid)
    with pytest.raises(NotFound, match=oid):
        store.get_bytes(oid)
    with pytest.raises(NotFound):
        store.get_file(oid, tmp_path / "out" / "x.bin")
    assert list((tmp_path / "out").iterdir()) == []


def test_malformed_id_raises_not_found(store: ObjectStore) -> None:
    with pytest.raises(NotFound, match="not a 64-hex"):
        store.get_bytes("../../etc/passwd")
    with pytest.raises(NotFound):
        store.exists("ABC")


def test_killed_writer_temp_file_is_not_an_object(store: ObjectStore) -> None:
    root = Path(store.root)
    (root / "tmp").mkdir(exist_ok=True)
    (root / "tmp" / "half-written").write_bytes(b"partial")  # as left by a killed writer
    oid = hash_bytes(b"partial")
    assert not store.exists(oid)
    with pytest.raises(NotFound):
        store.get_bytes(oid)
    assert store.put_bytes(b"partial") == oid
    assert store.get_bytes(oid) == b"partial"
    assert _object_files(root) == [f"{oid[:2]}/{oid[2:]}"]


def test_failed_put_file_leaves_nothing(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        store.put_file(tmp_path / "missing.bin")
    assert _object_files(Path(store.root)) == []
    assert _leftover_tmp(Path(store.root)) == []


def test_workspace_object_store_on_both_backends(any_workspace: Workspace) -> None:
    oid = any_workspace.objects.put_bytes(b"shared")
    assert any_workspace.objects.get_bytes(oid) == b"shared"
    assert Path(any_workspace.objects.root) == any_workspace.state_dir / "objects"


@settings(
    max_examples=75,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(blobs=st.lists(st.binary(max_size=4096), min_size=1, max_size=5))
def test_round_trip_and_idempotent_put_property(store: ObjectStore, blobs: list[bytes]) -> None:
    root = Path(store.root)
    ids = [store.put_bytes(b) for b in blobs]
    before = _object_files(root)
    assert [store.put_bytes(b) for b in blobs] == ids  # second put: same ids
    assert _object_files(root) == before  # and nothing new on disk
    for blob, oid in zip(blobs, ids, strict=True):
        assert oid == hash_bytes(blob)
        assert store.get_bytes(oid) == blob
    assert all(LAYOUT.match(p) for p in before)
    assert {f"{o[:2]}/{o[2:]}" for o in ids} <= set(before)
    assert _leftover_tmp(root) == []
