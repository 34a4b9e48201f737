"""The stat cache and `status`: unchanged files are not read; changes are named."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlcycle.data import _tracked, add_paths, hash_path, status
from mlcycle.data._statcache import RACY_NS, StatCache
from mlcycle.store import Workspace


def _age(path: Path) -> None:
    """Set mtimes well in the past so the stat cache may trust them (see RACY_NS)."""
    old = 1_600_000_000_000_000_000
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, ns=(old, old))


@pytest.fixture
def folder(workspace: Workspace) -> Path:
    root = workspace.root / "data"
    for i in range(20):
        (root / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        (root / f"d{i % 3}" / f"{i}.txt").write_text(f"file {i}\n")
    _age(root)
    return root


def test_unchanged_files_are_not_hashed_again(
    workspace: Workspace, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = hash_path(workspace, folder)
    calls: list[str] = []
    real = _tracked.digest
    monkeypatch.setattr(_tracked, "digest", lambda p, n: calls.append(str(p)) or real(p, n))
    assert hash_path(workspace, folder) == first
    assert calls == []
    victim = folder / "d1" / "1.txt"
    victim.write_text("changed\n")
    _age(victim)
    os.utime(victim, ns=(1_700_000_000_000_000_000,) * 2)
    assert hash_path(workspace, folder) != first
    assert calls == [str(victim)]


def test_fresh_files_are_not_trusted(workspace: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "fresh.txt"
    f.write_text("x")
    cache = StatCache(workspace.state_dir)
    cache.store([(str(f), f.stat(), "ab" * 32)])
    assert cache.lookup(str(f), f.stat()) is None, f"mtime within {RACY_NS} ns of now"
    _age(f)
    cache.store([(str(f), f.stat(), "ab" * 32)])
    assert cache.lookup(str(f), f.stat()) == "ab" * 32
    cache.close()


def test_status_names_what_changed(workspace: Workspace, folder: Path) -> None:
    single = workspace.root / "single.txt"
    single.write_text("one")
    gone = workspace.root / "gone.txt"
    gone.write_text("bye")
    add_paths(workspace, [folder, single, gone])
    assert {s.state for s in status(workspace)} == {"up to date"}
    (folder / "d0" / "0.txt").write_text("edited")
    (folder / "d1" / "1.txt").unlink()
    (folder / "d2" / "new.txt").write_text("new")
    os.chmod(gone, 0o644)
    gone.unlink()
    by_path = {s.path: s for s in status(workspace)}
    data = by_path["data"]
    assert data.state == "modified"
    assert (data.added, data.removed, data.modified) == (
        ("d2/new.txt",),
        ("d1/1.txt",),
        ("d0/0.txt",),
    )
    assert by_path["gone.txt"].state == "deleted"
    assert by_path["single.txt"].state == "up to date"
    assert [s.path for s in status(workspace, ["single.txt"])] == ["single.txt"]


def test_status_reports_objects_missing_from_the_cache(workspace: Workspace) -> None:
    f = workspace.root / "a.txt"
    f.write_text("a")
    [v] = add_paths(workspace, [f])
    path = workspace.objects.path_of(v.object_id)
    assert path is not None
    path.unlink()
    assert [s.state for s in status(workspace)] == ["not in cache"]
