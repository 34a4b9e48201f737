"""Faults: `data add` killed with SIGKILL mid-copy leaves no bad object; the rerun completes.

Objects are written in their own fan-out folder: as an `O_TMPFILE` inode
(Linux; a killed writer leaves nothing) or a `.<id>.tmp` file renamed into
place (elsewhere; `data gc` removes it once stale).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlcycle.core import hash_bytes, hash_file
from mlcycle.store import Workspace

MIB = 1 << 20


def _objects(root: Path) -> list[Path]:
    return [
        p
        for p in root.rglob("*")
        if p.is_file() and p.relative_to(root).parts[0] != "tmp" and not p.name.endswith(".tmp")
    ]


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.name.endswith(".tmp")]


def _open_object_bytes(pid: int, root: Path) -> int:
    """Bytes in files under `root` that process `pid` holds open (an O_TMPFILE shows there)."""
    total = 0
    for fd in Path(f"/proc/{pid}/fd").glob("*"):
        try:
            if os.readlink(fd).startswith(f"{root}/"):
                total += os.stat(fd).st_size
        except OSError:  # closed meanwhile
            continue
    return total


def _copy_in_progress(pid: int, root: Path) -> bool:
    if sys.platform == "linux" and _open_object_bytes(pid, root) > 0:
        return True
    return root.is_dir() and any(p.stat().st_size > 0 for p in _temp_files(root))


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
    objects = (ws / ".mlcycle" / "objects").resolve()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not _copy_in_progress(proc.pid, objects) and proc.poll() is None:
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
    if sys.platform == "linux":
        assert _temp_files(objects) == [], "an O_TMPFILE dies with its writer"
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


def _kill_mid_write(root: Path, oid: str, tmpfile: bool) -> None:
    """Run `ObjectStore._write_local` in a child that SIGKILLs itself half-way through."""
    code = (
        "import os, signal\n"
        "from mlcycle.store._objects import ObjectStore\n"
        f"store = ObjectStore({str(root)!r})\n"
        f"store._tmpfile = store._tmpfile and {tmpfile}\n"
        "def fill(fd):\n"
        "    os.write(fd, b'half an object')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        f"store._write_local({oid!r}, fill)\n"
    )
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr


def test_a_writer_killed_mid_write_leaves_only_a_temp_file_that_gc_removes(
    workspace: Workspace,
) -> None:
    from mlcycle.data import gc

    root = Path(workspace.objects.root)
    oid = hash_bytes(b"the whole object")
    _kill_mid_write(root, oid, tmpfile=False)  # the portable temp + rename path
    [temp] = _temp_files(root)
    assert temp.parent == root / oid[:2] and temp.name.startswith(".")
    assert not workspace.objects.exists(oid)
    assert gc(workspace, keep_recent_seconds=3600).temp_removed == 0  # maybe still writing
    stale = time.time() - 7200
    os.utime(temp, (stale, stale))
    assert gc(workspace, keep_recent_seconds=3600).temp_removed == 1
    assert _temp_files(root) == []
    assert workspace.objects.put_bytes(b"the whole object") == oid


@pytest.mark.skipif(sys.platform != "linux", reason="O_TMPFILE is Linux only")
def test_a_writer_killed_mid_write_with_o_tmpfile_leaves_nothing(workspace: Workspace) -> None:
    root = Path(workspace.objects.root)
    oid = hash_bytes(b"the whole object")
    _kill_mid_write(root, oid, tmpfile=True)
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_two_adds_at_once_lose_no_version(tmp_path: Path) -> None:
    """Two `data add` processes record into the pending journal under one lock."""
    import json

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "mlcycle.yaml").write_text("cache:\n  link: [copy]\n")
    for i in range(4):
        (ws / f"f{i}.bin").write_bytes(os.urandom(1 << 20))
    base = [sys.executable, "-m", "mlcycle", "--workspace", str(ws), "data", "add"]
    procs = [
        subprocess.Popen(
            [*base, f"f{i}.bin", "--name", "shared"], stdout=subprocess.PIPE, text=True
        )
        for i in range(4)
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0]
    printed = sorted(line.split(":")[0] for line in outs)
    assert printed == [f"shared@v{n}" for n in range(1, 5)], outs
    listed = subprocess.run([*base[:-1], "list", "--json"], capture_output=True, text=True)
    versions = json.loads(listed.stdout)
    assert sorted(v["ref"] for v in versions) == printed
    assert sorted(v["id"] for v in versions) == [1, 2, 3, 4]
