"""`data status`: what changed between the pointer files and the workspace.

Each pointer file (`*.mlc`) is compared with its file or folder through the
stat cache, so with nothing changed no file is read. Only the standard
library, PyYAML and BLAKE3 load here (no SQLAlchemy, pandas, pydantic
beyond what the caller loaded): `mlcycle data status` has a fast path in
the CLI that calls :func:`status_in` without opening the workspace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlcycle.core import DataError, MlcycleError
from mlcycle.data._manifest import Manifest
from mlcycle.data._pointers import Pointer, pointer_path, read_pointer, target_path
from mlcycle.data._targets import find_pointers
from mlcycle.data._tracked import hash_in

if TYPE_CHECKING:
    from mlcycle.store import Workspace

UP_TO_DATE, MODIFIED, DELETED, NOT_IN_CACHE = "up to date", "modified", "deleted", "not in cache"


class Objects(Protocol):
    """What status needs of an object store."""

    def exists(self, oid: str) -> bool:
        """Whether object `oid` is stored."""

    def get_bytes(self, oid: str) -> bytes:
        """The bytes of object `oid`."""


@dataclass(frozen=True)
class PathStatus:
    """The state of one tracked path.

    `path` is POSIX, relative to the workspace root; `state` one of
    `up to date`, `modified`, `deleted`, `not in cache`; for a modified
    folder, `added`, `removed` and `modified` list its files (POSIX,
    relative to the folder).
    """

    path: str
    state: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


def changes(old: Manifest, new: Manifest) -> tuple[list[str], list[str], list[str]]:
    """Files (added, removed, modified) going from manifest `old` to `new`, sorted."""
    a = {e.path: e.oid for e in old.entries}
    b = {e.path: e.oid for e in new.entries}
    added = sorted(b.keys() - a.keys())
    removed = sorted(a.keys() - b.keys())
    modified = sorted(p for p in a.keys() & b.keys() if a[p] != b[p])
    return added, removed, modified


def _manifest(objects: Objects, oid: str) -> Manifest | None:
    try:
        return Manifest.from_bytes(objects.get_bytes(oid), f"manifest {oid}")
    except MlcycleError:
        return None


def _cached(objects: Objects, pointer: Pointer) -> bool:
    if pointer.kind == "file":
        return objects.exists(pointer.oid)
    manifest = _manifest(objects, pointer.oid)
    return manifest is not None and all(objects.exists(e.oid) for e in manifest.entries)


def _one(state_dir: Path, objects: Objects, pointer_file: Path, rel: str) -> PathStatus:
    pointer = read_pointer(pointer_file)
    target = pointer_file.with_name(pointer.path)
    if not target.exists():
        return PathStatus(rel, DELETED)
    now = hash_in(state_dir, target)
    if now.oid != pointer.oid or now.kind != pointer.kind:
        old = _manifest(objects, pointer.oid) if pointer.kind == "dir" else None
        if old is None or now.manifest is None:
            return PathStatus(rel, MODIFIED)
        added, removed, modified = changes(old, now.manifest)
        return PathStatus(rel, MODIFIED, tuple(added), tuple(removed), tuple(modified))
    return PathStatus(rel, UP_TO_DATE if _cached(objects, pointer) else NOT_IN_CACHE)


def status_in(
    root: Path, state_dir: Path, objects: Objects, targets: list[Path] | None = None
) -> list[PathStatus]:
    """:func:`status` from plain parts: workspace `root`, its `.mlcycle/`, its objects.

    Args:
        root: the workspace root (absolute, resolved).
        state_dir: its `.mlcycle/` folder (for the stat cache).
        objects: the cache.
        targets: absolute tracked paths to check; None means every pointer file.

    Raises:
        DataError: if a target has no pointer file, or a pointer file is nonsense.
    """
    if targets is None:
        pointers = find_pointers(root)
    else:
        pointers = [pointer_path(t) for t in targets]
        for t, p in zip(targets, pointers, strict=True):
            if not p.exists():
                raise DataError(f"{t} is not tracked (no {p.name}); run 'mlcycle data add' on it")
    return [
        _one(state_dir, objects, p, target_path(p).relative_to(root).as_posix()) for p in pointers
    ]


def format_status(found: list[PathStatus]) -> str:
    """The text `mlcycle data status` prints: changed paths with their changed files."""
    changed = [s for s in found if s.state != UP_TO_DATE]
    if not changed:
        return f"{len(found)} tracked paths, all up to date."
    lines = []
    for s in changed:
        lines.append(f"{s.state}: {s.path}")
        lines += [f"    {k}: {f}" for k in ("added", "removed", "modified") for f in getattr(s, k)]
    return "\n".join(lines)


def status(ws: Workspace, paths: list[str] | None = None) -> list[PathStatus]:
    """Compare every tracked path (or those in `paths`) with its pointer file.

    Unchanged files are recognized by their stat (size, mtime, inode), not
    read. Returns one :class:`PathStatus` per pointer file, sorted by path.

    Raises:
        DataError: if a path is not tracked, is outside the workspace, or its
            pointer file is nonsense (naming the file and the field).
    """
    from mlcycle.data._targets import resolve_target

    targets = None if paths is None else [resolve_target(ws, p) for p in paths]
    return status_in(ws.root, ws.state_dir, ws.objects, targets)
