"""Link strategies: files go into and out of the cache by reflink, hardlink, symlink or copy."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mlcycle.core import hash_file, parse_config
from mlcycle.data import add_paths, restore_path
from mlcycle.store import ObjectStore, Workspace


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(str(tmp_path / "objects"))


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(300_000))
    return path


def test_hardlink_shares_the_inode_and_makes_it_read_only(store: ObjectStore, src: Path) -> None:
    oid = hash_file(src)
    assert store.add_file(src, oid, ("hardlink", "copy")) == "hardlink"
    cached = store.path_of(oid)
    assert cached is not None and cached.stat().st_ino == src.stat().st_ino
    assert _mode(cached) == 0o444
    assert store.add_file(src, oid, ("hardlink",)) == "exists"
    assert store.get_bytes(oid) == src.read_bytes()


def test_copy_is_a_private_read_only_object(store: ObjectStore, src: Path) -> None:
    oid = hash_file(src)
    assert store.add_file(src, oid, ("copy",)) == "copy"
    cached = store.path_of(oid)
    assert cached is not None and cached.stat().st_ino != src.stat().st_ino
    assert _mode(cached) == 0o444 and _mode(src) != 0o444


def test_reflink_falls_back_when_unsupported(store: ObjectStore, src: Path) -> None:
    oid = hash_file(src)
    used = store.add_file(src, oid, ("reflink", "copy"))
    assert used in ("reflink", "copy")  # ext4 has no reflinks; btrfs/xfs/APFS do
    assert hash_file(store.path_of(oid)) == oid  # type: ignore[arg-type]


def test_link_out_kinds(store: ObjectStore, src: Path, tmp_path: Path) -> None:
    oid = hash_file(src)
    store.add_file(src, oid, ("copy",))
    sym, hard, copy = tmp_path / "sym", tmp_path / "hard", tmp_path / "copy"
    assert store.link_out(oid, sym, ("symlink",)) == "symlink" and sym.is_symlink()
    assert store.link_out(oid, hard, ("hardlink",)) == "hardlink"
    assert hard.stat().st_ino == store.path_of(oid).stat().st_ino  # type: ignore[union-attr]
    assert store.link_out(oid, copy, ("copy",)) == "copy" and _mode(copy) == 0o644
    assert sym.read_bytes() == hard.read_bytes() == copy.read_bytes() == src.read_bytes()


def test_a_changed_source_is_not_stored(store: ObjectStore, src: Path) -> None:
    from mlcycle.core import DataError

    before = src.stat()
    oid = hash_file(src)
    src.write_bytes(b"different now")
    with pytest.raises(DataError, match="changed while it was being added"):
        store.add_file(src, oid, ("copy",), before)
    assert not store.exists(oid)
    assert _files(store) == []  # no object, no temp file


def _files(store: ObjectStore) -> list[Path]:
    return [p for p in Path(store.root).rglob("*") if not p.is_dir()]


@pytest.mark.parametrize("tmpfile", [True, False], ids=["o_tmpfile", "renamed_temp"])
def test_both_write_methods_store_the_same_read_only_object(
    store: ObjectStore, src: Path, tmpfile: bool
) -> None:
    store._tmpfile = tmpfile and store._tmpfile  # False: the portable temp + rename path
    oid = hash_file(src)
    assert store.add_file(src, oid, ("copy",), src.stat()) == "copy"
    manifest = store.put_bytes(b'{"entries":[]}')
    assert sorted(_files(store)) == sorted([store.path_of(oid), store.path_of(manifest)])  # type: ignore[type-var]
    assert _mode(store.path_of(oid)) == 0o444  # type: ignore[arg-type]
    assert store.get_bytes(oid) == src.read_bytes()
    assert store.add_file(src, oid, ("copy",)) == "exists"


def test_a_changed_source_leaves_no_named_temp_file(store: ObjectStore, src: Path) -> None:
    from mlcycle.core import DataError

    store._tmpfile = False
    before = src.stat()
    oid = hash_file(src)
    src.write_bytes(b"different now")
    with pytest.raises(DataError, match="changed while it was being added"):
        store.add_file(src, oid, ("copy",), before)
    assert _files(store) == []


def test_a_changed_source_is_not_hardlinked_and_keeps_its_mode(
    store: ObjectStore, src: Path
) -> None:
    from mlcycle.core import DataError

    before = src.stat()
    oid = hash_file(src)
    with open(src, "ab") as f:
        f.write(b"more")
    with pytest.raises(DataError, match="changed while it was being added"):
        store.add_file(src, oid, ("hardlink",), before)
    assert not store.exists(oid)
    assert _mode(src) == stat.S_IMODE(before.st_mode)


def test_an_unsupported_link_kind_is_tried_once(
    store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from mlcycle.store import _objects

    calls = []

    def no_reflink(src: Path, dest: Path) -> None:
        calls.append(src)
        raise OSError(errno.EOPNOTSUPP, "no reflinks here")

    monkeypatch.setattr(_objects, "_reflink", no_reflink)
    for i in range(3):
        f = tmp_path / f"f{i}.bin"
        f.write_bytes(os.urandom(1000))
        assert store.add_file(f, hash_file(f), ("reflink", "copy"), f.stat()) == "copy"
    assert len(calls) == 1
    assert len(_files(store)) == 3


@pytest.mark.parametrize("links", [["copy"], ["symlink", "copy"], ["hardlink", "copy"]])
def test_workspace_config_picks_the_kind(tmp_path: Path, links: list[str]) -> None:
    ws = Workspace(tmp_path / "ws", parse_config({"cache": {"link": links}}))
    f = ws.root / "f.bin"
    f.write_bytes(b"payload" * 1000)
    [v] = add_paths(ws, [f])
    cached = ws.objects.path_of(v.object_id)
    assert cached is not None
    shares_inode = cached.stat().st_ino == f.stat().st_ino
    assert shares_inode == (links[0] == "hardlink")
    out = ws.root / "out.bin"
    restore_path(ws, "file", v.object_id, out)
    assert out.is_symlink() == (links[0] == "symlink")
    assert out.read_bytes() == f.read_bytes()
    ws.close()


@pytest.mark.parametrize("tmpfile", [True, False], ids=["o_tmpfile", "renamed_temp"])
def test_copy_read_stores_exactly_the_bytes_read_only(
    store: ObjectStore, src: Path, tmpfile: bool
) -> None:
    store._tmpfile = tmpfile and store._tmpfile
    oid = store.copy_read(src, src.stat())
    assert oid == hash_file(src)
    assert store.get_bytes(oid) == src.read_bytes()
    assert _mode(store.path_of(oid)) == 0o444  # type: ignore[arg-type]
    assert store.copy_read(src, src.stat()) == oid
    assert _files(store) == [store.path_of(oid)]


@pytest.mark.parametrize("method", ["copy_read", "copy_hashing"])
def test_a_source_changed_since_listing_is_not_copied(
    store: ObjectStore, src: Path, method: str
) -> None:
    from mlcycle.core import DataError

    before = src.stat()
    with open(src, "ab") as f:
        f.write(b"more")
    with pytest.raises(DataError, match=r"data\.bin changed while it was being added"):
        if method == "copy_read":
            store.copy_read(src, before)
        else:
            store.copy_hashing(src, before, lambda: hash_file(src))
    assert _files(store) == []  # no object, no temp file


@pytest.mark.parametrize("tmpfile", [True, False], ids=["o_tmpfile", "renamed_temp"])
def test_copy_hashing_stores_a_read_only_copy_named_by_the_digest(
    store: ObjectStore, tmp_path: Path, tmpfile: bool
) -> None:
    store._tmpfile = tmpfile and store._tmpfile
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 << 20) + bytes(70 << 20))  # more than one copy step
    oid = store.copy_hashing(big, big.stat(), lambda: hash_file(big))
    assert oid == hash_file(big) and store.get_bytes(oid) == big.read_bytes()
    assert _mode(store.path_of(oid)) == 0o444  # type: ignore[arg-type]
    assert _files(store) == [store.path_of(oid)]


def test_copy_hashing_drops_its_copy_when_the_object_is_stored(
    store: ObjectStore, src: Path
) -> None:
    oid = store.put_bytes(src.read_bytes())
    inode = store.path_of(oid).stat().st_ino  # type: ignore[union-attr]
    assert store.copy_hashing(src, src.stat(), lambda: hash_file(src)) == oid
    assert store.path_of(oid).stat().st_ino == inode  # type: ignore[union-attr]
    assert _files(store) == [store.path_of(oid)]


def test_copy_hashing_raises_what_digest_raises_and_stores_nothing(
    store: ObjectStore, src: Path
) -> None:
    def digest() -> str:
        raise OSError("disk on fire")

    with pytest.raises(OSError, match="disk on fire"):
        store.copy_hashing(src, src.stat(), digest)
    assert _files(store) == []
