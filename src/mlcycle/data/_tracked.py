"""Hash, store and restore tracked files and folders (the layer under `data add`).

A file's id is its BLAKE3 digest; a folder's id is the digest of its
manifest (see :mod:`mlcycle.data._manifest`). Hashing goes through the stat
cache, so unchanged files cost one `stat`; files are hashed on a thread
pool (BLAKE3 releases the GIL, large files use its own threads on an mmap).
Storing links each file into the workspace cache (`ws.objects`) by the
configured `cache.link` kinds; restoring builds the file or folder under a
temporary sibling name and renames it into place.

Nothing here imports SQLAlchemy, pandas or fsspec beyond what the
workspace already loaded: the pipeline's no-op run and `data status` use it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlcycle.core import DataError, NotFound, hash_file, new_id
from mlcycle.data._manifest import Kind, Manifest, ManifestEntry, load_manifest
from mlcycle.data._statcache import StatCache, stat_key

if TYPE_CHECKING:
    from mlcycle.store import Workspace

WORKERS = min(32, (os.cpu_count() or 1) * 4)
Progress = Callable[[int], None]  # called with a number of bytes just done


@dataclass(frozen=True)
class FileState:
    """One file as hashed: absolute `path`, POSIX `rel` path in its folder, stat, BLAKE3 id."""

    path: str
    rel: str
    stat: os.stat_result
    oid: str


@dataclass(frozen=True)
class PathHash:
    """The content address of a file or folder.

    `kind` is `file` or `dir`; `oid` the file's BLAKE3 id or the folder's
    manifest id; `size` the total bytes; `files` the file count. `states`
    holds each file as hashed (not compared).
    """

    kind: Kind
    oid: str
    size: int
    files: int
    states: tuple[FileState, ...] = field(default=(), compare=False, repr=False)

    @property
    def manifest(self) -> Manifest | None:
        """The folder's manifest (None for a file)."""
        if self.kind == "file":
            return None
        return Manifest.of([ManifestEntry(s.rel, s.oid, s.stat.st_size) for s in self.states])


def _walk(folder: str, rel: str = "") -> Iterator[tuple[str, str, os.stat_result]]:
    with os.scandir(folder) as it:
        for entry in sorted(it, key=lambda e: e.name):
            name = f"{rel}{entry.name}"
            if entry.is_dir():
                yield from _walk(entry.path, name + "/")
            elif entry.is_file():
                yield entry.path, name, entry.stat()


def _scan(path: Path) -> tuple[Kind, list[tuple[str, str, os.stat_result]]]:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DataError(f"{path} does not exist; give an existing file or folder") from None
    if path.is_dir():
        return "dir", list(_walk(str(path)))
    return "file", [(str(path), path.name, st)]


def _hash_all(
    cache: StatCache,
    kind: Kind,
    path: Path,
    found: list[tuple[str, str, os.stat_result]],
    progress: Progress | None,
) -> list[FileState]:
    known = cache.lookup_under(str(path)) if kind == "dir" else {}
    if kind == "file" and (oid := cache.lookup(str(path), found[0][2])):
        known = {str(path): (stat_key(found[0][2]), oid)}
    states: dict[str, FileState] = {}
    todo = []
    for p, rel, st in found:
        hit = known.get(p)
        if hit and hit[0] == stat_key(st):
            states[p] = FileState(p, rel, st, hit[1])
        else:
            todo.append((p, rel, st))

    def work(item: tuple[str, str, os.stat_result]) -> FileState:
        state = FileState(item[0], item[1], item[2], hash_file(item[0]))
        if progress:
            progress(item[2].st_size)
        return state

    with ThreadPoolExecutor(WORKERS) as pool:
        fresh = list(pool.map(work, todo)) if len(todo) > 1 else [work(t) for t in todo]
    cache.store([(s.path, s.stat, s.oid) for s in fresh])
    states.update((s.path, s) for s in fresh)
    return [states[p] for p, _, _ in found]


def _path_hash(kind: Kind, states: list[FileState]) -> PathHash:
    size = sum(s.stat.st_size for s in states)
    if kind == "file":
        return PathHash("file", states[0].oid, size, 1, tuple(states))
    entries = [ManifestEntry(s.rel, s.oid, s.stat.st_size) for s in states]
    return PathHash("dir", Manifest.of(entries).oid, size, len(states), tuple(states))


def hash_path(ws: Workspace, path: Path, *, progress: Progress | None = None) -> PathHash:
    """The content address of the file or folder at `path` (stores nothing).

    Unchanged files (same size, mtime and inode as when last hashed) are
    not read again.

    Args:
        ws: the workspace (its stat cache is in `.mlcycle/statcache.db`).
        path: a file or folder.
        progress: called with byte counts as files are hashed.

    Raises:
        DataError: if `path` does not exist.
    """
    return hash_in(ws.state_dir, path, progress)


def hash_in(state_dir: Path, path: Path, progress: Progress | None = None) -> PathHash:
    """:func:`hash_path` with the stat cache of the `.mlcycle/` folder `state_dir`."""
    path = Path(os.path.abspath(path))
    kind, found = _scan(path)
    cache = StatCache(state_dir)
    try:
        return _path_hash(kind, _hash_all(cache, kind, path, found, progress))
    finally:
        cache.close()


def store_path(ws: Workspace, path: Path, *, progress: Progress | None = None) -> PathHash:
    """Put the file or folder at `path` into the workspace cache and return its address.

    Files go in by the first of `ws.config.cache.link` that works (reflink,
    hardlink, copy; see :meth:`mlcycle.store.ObjectStore.add_file`); a
    folder's manifest is stored too. Writes no pointer file and no database row.

    Raises:
        DataError: if `path` does not exist or changed while being stored.
    """
    hashed = hash_path(ws, path, progress=progress)
    links = tuple(ws.config.cache.link)
    missing = {s.oid: s for s in hashed.states}  # same bytes twice: store once

    def put(s: FileState) -> str:
        return ws.objects.add_file(Path(s.path), s.oid, links, s.stat)

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(put, missing.values()))
    if hashed.manifest is not None:
        ws.objects.put_bytes(hashed.manifest.to_bytes())
    return hashed


def _sibling(path: Path, tag: str) -> Path:
    return path.with_name(f".{path.name}.{new_id()}.{tag}")


def _build_dir(ws: Workspace, manifest: Manifest, tmp: Path, path: Path) -> None:
    links = tuple(ws.config.cache.link)
    missing = [e.path for e in manifest.entries if not ws.objects.exists(e.oid)]
    if missing:
        raise NotFound(
            f"{len(missing)} files of {path} are not in the cache "
            f"(first: {missing[0]}); pull them with 'mlcycle data pull'"
        )
    for folder in {str(Path(e.path).parent) for e in manifest.entries}:
        (tmp / folder).mkdir(parents=True, exist_ok=True)

    def put(e: ManifestEntry) -> str:
        return ws.objects.link_out(e.oid, tmp / e.path, links)

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(put, manifest.entries))


def _swap(tmp: Path, path: Path) -> None:
    """Rename `tmp` to `path`, replacing whatever is there (a file or a folder)."""
    if path.is_dir() and not path.is_symlink():
        old = _sibling(path, "old")
        os.rename(path, old)
        os.rename(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)


def restore_path(ws: Workspace, kind: str, oid: str, path: Path) -> None:
    """Materialize the cached file or folder `oid` at `path`, atomically.

    The new content is built under a temporary sibling name and renamed
    over `path`, so a reader sees the old or the new version, never a mix.

    Raises:
        NotFound: if the object (or a folder's manifest or file) is not cached.
    """
    path = Path(os.path.abspath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(path, "tmp")
    try:
        if kind == "file":
            ws.objects.link_out(oid, tmp, tuple(ws.config.cache.link))
        else:
            tmp.mkdir()
            _build_dir(ws, load_manifest(ws.objects, oid), tmp, path)
        _swap(tmp, path)
    finally:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists() or tmp.is_symlink():
            tmp.unlink()
