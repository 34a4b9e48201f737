"""Atomic writes: the old file or the whole new one, and no temp files left."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcycle.core import atomic_write_bytes, atomic_write_text


def test_writes_and_creates_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "f.txt"
    assert atomic_write_text(target, "héllo ✓") == target
    assert target.read_text(encoding="utf-8") == "héllo ✓"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.txt"]


def test_replaces_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    atomic_write_bytes(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert list(tmp_path.iterdir()) == [target]


def test_failing_write_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_failing_rename_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "inside").write_bytes(b"keep")
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"data")
    assert (target / "inside").read_bytes() == b"keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
