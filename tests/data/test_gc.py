"""Garbage collection keeps every referenced object and removes the rest."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from mlcycle.core import DataError, hash_bytes
from mlcycle.data import snapshot
from mlcycle.data._gc import gc, referenced
from mlcycle.data._manifest import Manifest, ManifestEntry
from mlcycle.data._pointers import Pointer, pointer_path, write_pointer
from mlcycle.models import store_package
from mlcycle.registry import register_model_version
from mlcycle.store import Workspace
from mlcycle.store.schema import ArtifactRow, DatasetVersionRow, RunInputRow
from mlcycle.tracking import start_run


def put_folder(ws: Workspace, files: dict[str, bytes]) -> tuple[str, list[str]]:
    """Store a folder's files and manifest; return (manifest id, file ids)."""
    entries = [
        ManifestEntry(name, ws.objects.put_bytes(data), len(data)) for name, data in files.items()
    ]
    manifest = Manifest.of(entries)
    return ws.objects.put_bytes(manifest.to_bytes()), [e.oid for e in entries]


def orphan(ws: Workspace, label: str, age_seconds: float = 0) -> str:
    """Store an object nothing references, `age_seconds` old."""
    oid = ws.objects.put_bytes(f"orphan {label}\n".encode())
    if age_seconds:
        stamp = time.time() - age_seconds
        os.utime(ws.objects._path(oid), (stamp, stamp))
    return oid


def package(ws: Workspace, folder: Path, label: str) -> tuple[str, list[str]]:
    """A stored model package (model.yaml + a model file); return (package id, file ids)."""
    folder.mkdir()
    (folder / "model.yaml").write_text(f"format: test\nname: {label}\n")
    (folder / "model.skops").write_bytes(label.encode() * 100)
    pid = store_package(ws.objects, folder)
    return pid, [ws.objects.put_file(p) for p in sorted(folder.iterdir())]


def build_references(ws: Workspace, tmp: Path) -> set[str]:
    """Reference objects in every way gc knows; return every id that must survive."""
    keep: set[str] = set()
    data = ws.root / "data.csv"
    data.write_text("a,b\n1,2\n")
    oid = ws.objects.put_file(data)
    write_pointer(pointer_path(data), Pointer("data.csv", "file", oid, data.stat().st_size, 1))
    keep.add(oid)
    mid, fids = put_folder(ws, {"x.txt": b"x", "sub/y.txt": b"y"})
    write_pointer(ws.root / "folder.mlc", Pointer("folder", "dir", mid, 2, 2))
    keep.update([mid, *fids])

    artifact = tmp / "report.json"
    artifact.write_text('{"mae": 3.5}')
    used = tmp / "train.csv"
    used.write_text("a,b\n5,6\n")
    with start_run(ws, experiment="gc") as run:
        keep.add(run.log_artifact(artifact))
        dv = snapshot(ws, used)
        run.log_input(dv)
        keep.add(dv.object_id)
        logged, logged_files = package(ws, tmp / "logged", "logged")  # as run.log_model does
        with ws.db.session() as s:
            s.add(ArtifactRow(run_id=run.id, path="model", object_id=logged, size=1))
        keep.update([logged, *logged_files])
        dir_mid, dir_fids = put_folder(ws, {"p.txt": b"p", "q.txt": b"q"})
        with ws.db.session() as s:
            row = DatasetVersionRow(
                dataset="images", version=1, object_id=dir_mid, source="images", size=2,
                rows=None, schema={}, created_at=0.0, kind="dir", files=2,
            )  # fmt: skip
            s.add(row)
            s.flush()
            s.add(RunInputRow(run_id=run.id, dataset_version_id=row.id, role="training"))
        keep.update([dir_mid, *dir_fids])

    pid, pfiles = package(ws, tmp / "registered", "registered")
    register_model_version(ws, "m", pid)
    keep.update([pid, *pfiles])

    step_out = ws.objects.put_bytes(b"step output")
    steps = ws.state_dir / "cache" / "steps"
    steps.mkdir(parents=True)
    (steps / "train-abc.json").write_text(json.dumps({"objects": [step_out]}))
    keep.add(step_out)
    return keep


def stored(ws: Workspace) -> set[str]:
    root = Path(ws.objects.root)
    return {p.parent.name + p.name for p in root.glob("??/*")}


def test_gc_keeps_every_reference_and_removes_orphans(
    any_workspace: Workspace, tmp_path: Path
) -> None:
    ws = any_workspace
    keep = build_references(ws, tmp_path)
    unused = snapshot(ws, write(tmp_path / "unused.csv", "a\n9\n"))  # no run used it
    orphans = {orphan(ws, str(i)) for i in range(3)} | {unused.object_id}
    assert stored(ws) == keep | orphans
    assert referenced(ws) >= keep

    dry = gc(ws, dry_run=True, keep_recent_seconds=0)
    assert (dry.removed, dry.kept, dry.dry_run) == (len(orphans), len(keep), True)
    assert stored(ws) == keep | orphans  # nothing deleted

    result = gc(ws, keep_recent_seconds=0)
    sizes = sum(len(f"orphan {i}\n") for i in range(3)) + unused.size
    assert (result.removed, result.freed, result.kept) == (len(orphans), sizes, len(keep))
    assert stored(ws) == keep
    for oid in keep:
        ws.objects.get_bytes(oid)  # still whole
    assert gc(ws, keep_recent_seconds=0).removed == 0


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_recent_objects_and_temp_files_wait(workspace: Workspace) -> None:
    old, new = orphan(workspace, "old", age_seconds=7200), orphan(workspace, "new")
    tmp_dir = Path(workspace.objects.root) / "tmp"
    tmp_dir.mkdir(exist_ok=True)
    stale, fresh = tmp_dir / "stale", tmp_dir / "fresh"
    stale.write_bytes(b"half an upload")
    fresh.write_bytes(b"an upload in progress")
    os.utime(stale, (time.time() - 7200,) * 2)
    beside = Path(workspace.objects._path(new)).parent / f".{new[2:]}.abc.tmp"
    beside.write_bytes(b"half a download")
    os.utime(beside, (time.time() - 7200,) * 2)

    result = gc(workspace, keep_recent_seconds=3600)
    assert (result.removed, result.kept, result.temp_removed) == (1, 1, 2)
    assert stored(workspace) == {new}
    assert not workspace.objects.exists(old)
    assert fresh.exists() and not stale.exists() and not beside.exists()


def test_a_manifest_missing_from_the_cache_does_not_stop_gc(workspace: Workspace) -> None:
    ghost = hash_bytes(b"a manifest that was never stored")
    write_pointer(workspace.root / "gone.mlc", Pointer("gone", "dir", ghost, 0, 0))
    assert ghost in referenced(workspace)
    assert gc(workspace, keep_recent_seconds=0).removed == 0


def test_unreadable_step_cache_entry_stops_gc(workspace: Workspace) -> None:
    victim = orphan(workspace, "x")
    steps = workspace.state_dir / "cache" / "steps"
    steps.mkdir(parents=True)
    (steps / "broken.json").write_text("{not json")
    with pytest.raises(DataError, match=r"broken\.json"):
        gc(workspace, keep_recent_seconds=0)
    assert workspace.objects.exists(victim)
