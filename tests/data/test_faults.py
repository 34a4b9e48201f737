"""Faults: `data add` killed with SIGKILL mid-copy leaves no bad object; the rerun completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlcycle.core import hash_file

MIB = 1 << 20


def _objects(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] != "tmp"]


def _copy_in_progress(tmp: Path) -> bool:
    return tmp.is_dir() and any(p.stat().st_size > 0 for p in tmp.iterdir())


@pytest.mark.slow
def test_kill_9_during_add(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "mlcycle.yaml").write_text("cache:\n  link: [copy]\n")
    big = ws / "big.bin"
    chunk = os.urandom(64 * MIB)
    with open(big, "wb") as f:
        for i in range(12):  # 768 MiB: the copy takes long enough to be caught
            f.write(bytes([i]) + chunk[1:])
    args = [sys.executable, "-m", "mlcycle", "--workspace", str(ws), "data", "add", "big.bin"]
    objects_tmp = ws / ".mlcycle" / "objects" / "tmp"
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not _copy_in_progress(objects_tmp) and proc.poll() is None:
            if time.monotonic() > deadline:
                pytest.fail("data add never started copying into the cache")
        assert proc.poll() is None, "data add finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert proc.returncode == -signal.SIGKILL
    objects = ws / ".mlcycle" / "objects"
    for obj in _objects(objects):  # whatever is at a final path is whole and correct
        assert hash_file(obj) == obj.parent.name + obj.name
    assert not (ws / "big.bin.mlc").exists(), "the pointer comes after the object"

    rerun = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    oid = hash_file(big)
    assert (objects / oid[:2] / oid[2:]).exists()
    assert f"blake3: {oid}" in (ws / "big.bin.mlc").read_text()
    status = subprocess.run(
        [*args[:-3], "data", "status", "--json"], capture_output=True, text=True, timeout=60
    )
    assert '"state": "up to date"' in status.stdout, status.stdout + status.stderr
