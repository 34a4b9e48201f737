"""Garbage collection of the object store: drop objects nothing references.

An object is kept when any of these references it (a folder or model
package keeps its manifest and every file it lists):

- a pointer file (`*.mlc`) in the workspace;
- a run's artifact (a logged model's artifact is its package manifest);
- a dataset version that a run used as an input;
- a model version's package;
- a pipeline step cache entry (`.mlcycle/cache/steps/*.json`, key `objects`).

Objects written in the last `keep_recent_seconds` are kept whatever the
references say, because a concurrent writer stores its objects before it
records the reference. Temp files older than that (from killed writers)
are removed too: `tmp/<id>` of a remote store's writer, and the
`.<id>.tmp` files that a local writer without `O_TMPFILE` (and a
downloader) builds beside the object. On Linux a local writer's temp is
an `O_TMPFILE` inode, which a kill frees with nothing left to collect.
Dataset versions no run used and no pointer names are not references:
their objects go, like DVC's `gc --workspace`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.core import DataError, MlcycleError, is_object_id
from mlcycle.data._manifest import objects_of
from mlcycle.data._pointers import read_pointer
from mlcycle.data._targets import find_pointers

if TYPE_CHECKING:
    from mlcycle.store import ObjectStore, Workspace

STEP_CACHE = Path("cache") / "steps"
# Artifacts bigger than this are never a manifest, so they are not read to find out.
MANIFEST_SNIFF_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class GcResult:
    """What :func:`gc` removed (or would remove, with `dry_run`).

    `removed` objects freeing `freed` bytes; `kept` objects stay (referenced
    or recent); `temp_removed` stale temp files; `dry_run` whether nothing
    was deleted.
    """

    removed: int
    freed: int
    kept: int
    temp_removed: int
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return asdict(self)


def gc(ws: Workspace, *, dry_run: bool = False, keep_recent_seconds: float = 3600) -> GcResult:
    """Remove every object of `ws.objects` that nothing references.

    Args:
        ws: the workspace (its database is opened to read the references).
        dry_run: count what would go, delete nothing.
        keep_recent_seconds: keep objects and temp files modified this recently.

    Raises:
        DataError: if a pointer file or a step cache entry is unreadable
            (collecting with a reference unknown could delete needed data).
    """
    keep = referenced(ws)
    cutoff = time.time() - keep_recent_seconds
    objects, temps = _inventory(ws.objects)
    doomed = {p: i for p, i in objects.items() if p not in keep and _mtime(i) < cutoff}
    stale = [path for path, info in temps.items() if _mtime(info) < cutoff]
    if not dry_run:
        for oid in doomed:
            ws.objects.fs.rm(ws.objects._path(oid))
        for path in stale:
            ws.objects.fs.rm(path)
    freed = sum(int(info.get("size") or 0) for info in doomed.values())
    return GcResult(len(doomed), freed, len(objects) - len(doomed), len(stale), dry_run)


def referenced(ws: Workspace) -> set[str]:
    """Every object id the workspace references (see the module docstring)."""
    keep: set[str] = set()
    keep.update(_pointer_objects(ws))
    keep.update(_step_cache_objects(ws))
    keep.update(_database_objects(ws))
    return keep


def _expand(store: ObjectStore, kind: str, oid: str) -> list[str]:
    """`objects_of`, keeping just the manifest's id if the manifest is not stored."""
    try:
        return objects_of(store, "dir" if kind == "dir" else "file", oid)
    except MlcycleError:  # nothing to protect beyond the manifest itself
        return [oid]


def _pointer_objects(ws: Workspace) -> Iterable[str]:
    for pf in find_pointers(ws.root):
        pointer = read_pointer(pf)
        yield from _expand(ws.objects, pointer.kind, pointer.oid)


def _step_cache_objects(ws: Workspace) -> Iterable[str]:
    folder = ws.state_dir / STEP_CACHE
    for entry in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            oids = json.loads(entry.read_text(encoding="utf-8")).get("objects", [])
        except (ValueError, AttributeError, OSError) as err:
            raise DataError(
                f"Step cache entry {entry} is unreadable ({err}); delete it (the step reruns) "
                "and run gc again"
            ) from None
        for oid in oids:
            yield from _sniff(ws.objects, str(oid))


def _database_objects(ws: Workspace) -> Iterable[str]:
    from sqlalchemy import select

    from mlcycle.store.schema import (
        ArtifactRow,
        DatasetVersionRow,
        ModelVersionRow,
        RunInputRow,
    )

    inputs = select(DatasetVersionRow.kind, DatasetVersionRow.object_id).join(
        RunInputRow, RunInputRow.dataset_version_id == DatasetVersionRow.id
    )
    with ws.db.session() as s:
        artifacts = list(s.scalars(select(ArtifactRow.object_id).distinct()))
        packages = list(s.scalars(select(ModelVersionRow.package_id).distinct()))
        datasets = [(kind, oid) for kind, oid in s.execute(inputs.distinct())]
    for oid in [*artifacts, *packages]:
        yield from _sniff(ws.objects, oid)
    for kind, oid in datasets:
        yield from _expand(ws.objects, kind, oid)


def _sniff(store: ObjectStore, oid: str) -> list[str]:
    """`oid` plus, if it is a model package or folder manifest, every object it lists.

    Reading an unknown object as a manifest may keep a few objects too many
    (a user's JSON that happens to list ids), never too few.
    """
    if not is_object_id(oid) or not store.exists(oid):
        return [oid] if is_object_id(oid) else []
    if int(store.fs.size(store._path(oid))) > MANIFEST_SNIFF_BYTES:
        return [oid]
    try:
        data = json.loads(store.get_bytes(oid))
    except (ValueError, MlcycleError):
        return [oid]
    return [oid, *_listed(data)]


def _listed(data: Any) -> list[str]:
    """Object ids a package manifest (`{"files": {name: oid}}`) or folder manifest lists."""
    # Coupling: `files` is the package format of mlcycle/models/_package.py, parsed here
    # because data sits below models and must not import it; change both together.
    if not isinstance(data, dict):
        return []
    files, entries = data.get("files"), data.get("entries")
    found: list[Any] = []
    if isinstance(files, dict):
        found = list(files.values())
    elif isinstance(entries, list):
        found = [e[1] for e in entries if isinstance(e, list) and len(e) == 3]
    return [o for o in found if isinstance(o, str) and is_object_id(o)]


def _inventory(store: ObjectStore) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Split the store's files into objects (by id) and temp files (by path)."""
    objects: dict[str, dict[str, Any]] = {}
    temps: dict[str, dict[str, Any]] = {}
    store.fs.invalidate_cache(store.root)
    for path, info in store.fs.find(store.root, detail=True).items():
        parts = path.rsplit("/", 2)
        if len(parts) == 3 and len(parts[1]) == 2 and is_object_id(parts[1] + parts[2]):
            objects[parts[1] + parts[2]] = info
        elif _is_temp(store, path):
            temps[path] = info
    return objects, temps


def _is_temp(store: ObjectStore, path: str) -> bool:
    """`tmp/<id>` of a writer, or a `.<id>.tmp` / `.<name>.<id>.tmp` beside an object."""
    name = path.rsplit("/", 1)[-1]
    return path.startswith(f"{store.root}/tmp/") or (name.startswith(".") and name.endswith(".tmp"))


def _mtime(info: dict[str, Any]) -> float:
    """Modification time in seconds since the epoch (local `mtime`, S3 `LastModified`)."""
    value = info.get("mtime", info.get("LastModified", info.get("last_modified")))
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value) if value is not None else 0.0
