"""`data add`, `data checkout`, `data log`: tracked paths as dataset versions.

`add` stores a file or folder in the cache (see :mod:`mlcycle.data._tracked`),
records a dataset version named by the path relative to the workspace root,
and writes its pointer file and `.gitignore` entry. With the default SQLite
database the version goes to the pending journal (see
:mod:`mlcycle.store._journal`), which the next opening of the database
applies: `data add` never imports SQLAlchemy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.core import DataError, DatasetNotFound, InputError
from mlcycle.data._pointers import Pointer, pointer_path, read_pointer, write_pointer
from mlcycle.data._targets import (
    check_not_inside_tracked,
    dataset_name,
    ignore_in_git,
    resolve_target,
)
from mlcycle.data._tracked import PathHash, Progress, hash_path, restore_path, store_path

if TYPE_CHECKING:
    from mlcycle.data._datasets import DatasetVersion, NewVersion
    from mlcycle.store import Workspace

#: CSV files up to this size (bytes) are read to count rows and infer a schema.
TABULAR_READ_LIMIT = 64 << 20
_VERSION = re.compile(r"^v?\d{1,3}$|^v\d+$")
_HEX = re.compile(r"^[0-9a-f]{4,64}$")


#: `data add` applies the journal itself once it holds this many records (keeps reads short).
JOURNAL_APPLY_FROM = 64


def _tabular(target: Path, size: int) -> tuple[int | None, dict[str, Any]]:
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        return None, {}
    if size <= TABULAR_READ_LIMIT:
        from mlcycle.data._io import read_table
        from mlcycle.data._schema_infer import infer_schema

        try:
            frame = read_table(target)
        except DataError:  # tracked all the same, as plain bytes
            return None, {}
        return len(frame), {k: v.to_dict() for k, v in infer_schema(frame).items()}
    if suffix != ".csv":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(target).metadata.num_rows), {}
    return None, {}


def _new_version(ws: Workspace, target: Path, hashed: PathHash, name: str | None) -> NewVersion:
    from mlcycle.data._datasets import NewVersion

    rows, schema = _tabular(target, hashed.size) if hashed.kind == "file" else (None, {})
    return NewVersion(
        name or dataset_name(ws, target),
        hashed.oid,
        str(target),
        hashed.size,
        rows,
        schema,
        hashed.kind,
        hashed.files,
    )


def _record_all(ws: Workspace, new: list[NewVersion]) -> list[DatasetVersion]:
    """Record the versions: through the journal for the default SQLite database."""
    from mlcycle.data._datasets import DatasetVersion, record_version
    from mlcycle.store import _journal

    if ws.config.db_url is None:
        for attempt in range(2):
            try:
                rows = _journal.reserve(ws.state_dir, [dict(n.__dict__) for n in new])
            except _journal.JournalUnavailable:
                if attempt == 0:
                    _ = ws.db  # an old schema: opening the database migrates it
                continue
            if len(_journal.pending_files(ws.state_dir)) >= JOURNAL_APPLY_FROM:
                _journal.apply_pending(ws.state_dir, ws.db)
            return [DatasetVersion(**r) for r in rows]
    return [record_version(ws, n) for n in new]


def _track(target: Path, hashed: PathHash) -> None:
    pointer = Pointer(target.name, hashed.kind, hashed.oid, hashed.size, hashed.files)
    write_pointer(pointer_path(target), pointer)
    ignore_in_git(target)


def add_paths(
    ws: Workspace,
    paths: list[str | Path],
    *,
    name: str | None = None,
    progress: Progress | None = None,
) -> list[DatasetVersion]:
    """Track files and folders: cache them, write `PATH.mlc` and `.gitignore`, record versions.

    Args:
        ws: the workspace.
        paths: files or folders inside the workspace.
        name: the dataset name (one path only); default the path relative
            to the workspace root in POSIX form, e.g. `data/hour.csv`.
        progress: called with byte counts as files are hashed.

    Returns:
        One dataset version per path (the existing one for bytes seen before).

    Raises:
        DataError: if a path is missing, outside the workspace, inside
            `.mlcycle/`, or part of an already tracked folder.
        InputError: if `name` is given with several paths.
    """
    if name is not None and len(paths) != 1:
        raise InputError(f"--name names one dataset; got {len(paths)} paths")
    targets = [resolve_target(ws, p) for p in paths]
    for target in targets:
        if not target.exists():
            raise DataError(f"{target} does not exist; give an existing file or folder")
        check_not_inside_tracked(ws, target)
    hashes = [store_path(ws, t, progress=progress) for t in targets]
    versions = _record_all(
        ws, [_new_version(ws, t, h, name) for t, h in zip(targets, hashes, strict=True)]
    )
    for target, hashed in zip(targets, hashes, strict=True):
        _track(target, hashed)
    return versions


@dataclass(frozen=True)
class LogEntry:
    """One version of a tracked path; `current` if its pointer file points at it."""

    version: DatasetVersion
    current: bool

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {**self.version.to_dict(), "current": self.current}


def log(ws: Workspace, path: str | Path) -> list[LogEntry]:
    """The recorded versions of a tracked path, newest first.

    Raises:
        DataError: if `path` is outside the workspace or inside `.mlcycle/`.
        DatasetNotFound: if the path was never added.
    """
    from mlcycle.data._datasets import list_dataset_versions

    target = resolve_target(ws, path)
    versions = list_dataset_versions(ws, dataset_name(ws, target))
    if not versions:
        raise DatasetNotFound(f"{path} has no versions; run 'mlcycle data add {path}' first")
    pointer = pointer_path(target)
    current = read_pointer(pointer).oid if pointer.exists() else None
    return [LogEntry(v, v.object_id == current) for v in versions]


def split_ref(ref: str) -> tuple[str, str | None]:
    """Split `PATH@vN` or `PATH@HASHPREFIX` into path and version part (None for `PATH`)."""
    path, sep, spec = ref.rpartition("@")
    if sep and (_VERSION.match(spec) or _HEX.match(spec)):
        return path, spec
    return ref, None


def find_version(ws: Workspace, dataset: str, spec: str) -> DatasetVersion:
    """The version `spec` (`vN`, `N` or a BLAKE3 prefix of 4+ hex digits) of `dataset`.

    Raises:
        DatasetNotFound: if there is no such version.
        InputError: if a hash prefix matches several versions.
    """
    from mlcycle.data._datasets import get_dataset_version, list_dataset_versions

    if _VERSION.match(spec):
        return get_dataset_version(ws, f"{dataset}@v{spec.removeprefix('v')}")
    found = [v for v in list_dataset_versions(ws, dataset) if v.object_id.startswith(spec)]
    if not found:
        raise DatasetNotFound(f"{dataset} has no version with hash {spec}...; see 'data log'")
    if len(found) > 1:
        raise InputError(f"hash prefix {spec} matches {len(found)} versions of {dataset}; "
                         "give more digits")  # fmt: skip
    return found[0]


def _guard_changes(ws: Workspace, target: Path, wanted: str) -> None:
    """Refuse to overwrite workspace content that exists nowhere else."""
    if not target.exists():
        return
    now = hash_path(ws, target)
    oids = [now.oid] if now.kind == "file" else [s.oid for s in now.states]
    if now.oid != wanted and not all(ws.objects.exists(o) for o in oids):
        raise DataError(
            f"{target} has changes that are not in the cache; run 'mlcycle data add' on it "
            "first, or pass --force to discard them"
        )


def checkout(ws: Workspace, ref: str, *, force: bool = False) -> Pointer:
    """Restore a tracked path to a version, atomically, and point its pointer file at it.

    Args:
        ws: the workspace.
        ref: `PATH@vN`, `PATH@HASHPREFIX`, or `PATH` for what its pointer says.
        force: overwrite workspace changes that are not in the cache.

    Returns:
        The pointer now written.

    Raises:
        DataError: if the path is not tracked, or has uncached changes (without `force`).
        DatasetNotFound: if the version does not exist.
        NotFound: if the version's objects are not in the cache.
    """
    path, spec = split_ref(ref)
    target = resolve_target(ws, path)
    if spec is None:
        pointer = read_pointer(pointer_path(target))
    else:
        v = find_version(ws, dataset_name(ws, target), spec)
        pointer = Pointer(target.name, v.kind, v.object_id, v.size, v.files)  # type: ignore[arg-type]
    if not force:
        _guard_changes(ws, target, pointer.oid)
    if not target.exists() or hash_path(ws, target).oid != pointer.oid:
        restore_path(ws, pointer.kind, pointer.oid, target)
    write_pointer(pointer_path(target), pointer)
    ignore_in_git(target)
    return pointer
