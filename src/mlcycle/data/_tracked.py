"""Hash, store and restore tracked files and folders (the layer under `data add`).

A file's id is its BLAKE3 digest; a folder's id is the digest of its
manifest (see :mod:`mlcycle.data._manifest`). Hashing goes through the stat
cache, so unchanged files cost one `stat`. `hash_path` hashes files one
after another on the calling thread: a small file in one read and one
BLAKE3 call, a file of :data:`THREADED_FROM` bytes or more with BLAKE3's
own threads. `store_path` hashes the first file there too and links it
into the workspace cache (`ws.objects`) by the configured `cache.link`
kinds; the rest are hashed on :data:`COPY_WORKERS` threads in batches of
up to 32 files (a task per file cost more in GIL hand-offs than it
gained) while the calling thread links them in, in path order. Once files
are copied (the config copies only, or a link failed), the threads read,
hash and copy each file in one go: a file under 8 MiB is read once and
written to its object from the bytes hashed, a larger one is copied by
the kernel while BLAKE3 hashes it. Restoring builds the file or folder under a temporary sibling
name and renames it into place.

Nothing here imports SQLAlchemy, pandas or fsspec beyond what the
workspace already loaded: the pipeline's no-op run and `data status` use it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import blake3

from mlcycle.core import DataError, NotFound, hash_bytes, hash_file, new_id
from mlcycle.data._manifest import Kind, Manifest, ManifestEntry, load_manifest, manifest_bytes
from mlcycle.data._statcache import Entry, StatCache, stat_key

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from mlcycle.store import Workspace

#: Threads that restore files from the cache: kernel copies and links release the GIL,
#: and overlapping them hides file system latency.
WORKERS = min(32, (os.cpu_count() or 1) * 4)
#: Threads that read, hash and copy files into the cache: one per core. 8 threads and
#: a task per file cost 72,000 futex calls (the GIL, futures) for 2,000 files of
#: 256 KiB; 2 threads and tasks of up to :data:`_BATCH` files: about 1,000.
COPY_WORKERS = min(8, os.cpu_count() or 1)
#: Files of this many bytes or more are hashed with BLAKE3's threads (below: one thread).
THREADED_FROM = 1 << 20
_BATCH = 32  # files per task of a copy thread at most: fewer hand-offs between threads
_MMAP_FROM = 8 << 20  # and from this size, from a memory map (`mlcycle.core.hash_file`)
Progress = Callable[[int], None]  # called with a number of bytes just done
# Called with each file as soon as its id is known, and whether it was read (not from the
# stat cache).
OnHashed = Callable[["FileState", bool], None]
# Given files (path, stat, id the stat cache last had for the path or None) in path
# order, yields their ids in that order.
Todo = list[tuple[str, os.stat_result, str | None]]
Reader = Callable[[Todo], Iterator[str]]


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

    @cached_property
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


def digest(path: str, size: int) -> str:
    """The BLAKE3 id of the file at `path` of `size` bytes (as :func:`mlcycle.core.hash_file`).

    Small files are read whole and hashed on this thread; from
    :data:`THREADED_FROM` bytes BLAKE3 uses its own threads, and from 8 MiB
    it reads a memory map. The id does not depend on the method.

    Raises:
        FileNotFoundError: if `path` does not exist.
    """
    if size >= _MMAP_FROM:
        return hash_file(path)
    threads = blake3.blake3.AUTO if size >= THREADED_FROM else 1
    with open(path, "rb", buffering=0) as f:
        return blake3.blake3(f.read(), max_threads=threads).hexdigest()


def _read_each(todo: Todo) -> Iterator[str]:
    """The ids of the files `todo`, read one after another on this thread (lazily)."""
    return (digest(p, st.st_size) for p, st, _ in todo)


def _last_id(known: dict[str, Entry], p: str) -> str | None:
    hit = known.get(p)
    return None if hit is None else hit[3]


def _cached_id(known: dict[str, Entry], p: str, st: os.stat_result) -> str | None:
    hit = known.get(p)
    return hit[3] if hit is not None and hit[:3] == stat_key(st) else None


def _hash_all(
    cache: StatCache,
    kind: Kind,
    path: Path,
    found: list[tuple[str, str, os.stat_result]],
    progress: Progress | None,
    on_hashed: OnHashed | None = None,
    read: Reader = _read_each,
) -> list[FileState]:
    if kind == "dir":
        known = cache.lookup_under(str(path))
    else:
        entry = cache.entry(str(path))
        known = {} if entry is None else {str(path): entry}
    cached = [_cached_id(known, p, st) for p, _, st in found]
    todo = [(p, st, _last_id(known, p)) for (p, _, st), c in zip(found, cached, strict=True)
            if c is None]  # fmt: skip
    ids = read(todo)
    states: list[FileState] = []
    fresh: list[FileState] = []
    for (p, rel, st), hit in zip(found, cached, strict=True):
        state = FileState(p, rel, st, next(ids) if hit is None else hit)
        if hit is None:
            fresh.append(state)
            if progress:
                progress(st.st_size)
        if on_hashed:
            on_hashed(state, hit is None)
        states.append(state)
    cache.store([(s.path, s.stat, s.oid) for s in fresh])
    return states


def _path_hash(kind: Kind, states: list[FileState]) -> PathHash:
    size = sum(s.stat.st_size for s in states)
    if kind == "file":
        return PathHash("file", states[0].oid, size, 1, tuple(states))
    oid = hash_bytes(manifest_bytes((s.rel, s.oid, s.stat.st_size) for s in states))
    return PathHash("dir", oid, size, len(states), tuple(states))


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


def hash_in(
    state_dir: Path,
    path: Path,
    progress: Progress | None = None,
    on_hashed: OnHashed | None = None,
    read: Reader = _read_each,
) -> PathHash:
    """:func:`hash_path` with the stat cache of the `.mlcycle/` folder `state_dir`.

    `on_hashed` is called with each file (in path order) as soon as its id
    is known, and True if it was read (False: its id came from the stat cache).
    `read` is given the files the stat cache does not know, in path order,
    and yields their ids in that order.
    """
    path = Path(os.path.abspath(path))
    kind, found = _scan(path)
    cache = StatCache(state_dir)
    try:
        return _path_hash(kind, _hash_all(cache, kind, path, found, progress, on_hashed, read))
    finally:
        cache.close()


def store_path(ws: Workspace, path: Path, *, progress: Progress | None = None) -> PathHash:
    """Put the file or folder at `path` into the workspace cache and return its address.

    Files go in by the first of `ws.config.cache.link` that works (reflink,
    hardlink, copy; see :meth:`mlcycle.store.ObjectStore.add_file`), each as
    soon as it is hashed: links on this thread (a few cheap system calls).
    Once a file has to be copied (or `cache.link` starts with `copy`), the
    rest are read, hashed and copied on :data:`COPY_WORKERS` threads, a
    small file from the bytes read for its hash. A folder's manifest is
    stored last. Writes no pointer file and no database row.

    Raises:
        DataError: if `path` does not exist or changed while being stored.
    """
    with _Placer(ws) as placer:
        hashed = hash_in(ws.state_dir, path, progress, placer.put, placer.read)
    if hashed.manifest is not None:
        ws.objects.put_bytes(hashed.manifest.to_bytes())
    return hashed


def _hash_batch(todo: Todo) -> list[str]:
    """The ids of the files `todo` (on a worker thread)."""
    return [digest(p, st.st_size) for p, st, _ in todo]


def _copies_only(links: tuple[str, ...]) -> bool:
    """Whether `links` copies every file into the store (symlinks do not apply to it)."""
    before_copy = links[: links.index("copy")] if "copy" in links else links
    return all(kind == "symlink" for kind in before_copy)


class _Placer:
    """Puts files into the cache: linked in as hashed, or copied while they are read.

    While links work each file is hashed on the calling thread, then linked
    in (:meth:`put`). Once copying (the first file was copied, or the config
    copies only), the reader (:meth:`read`) hands the rest to
    :data:`COPY_WORKERS` threads that read, hash and store each file in one
    go (:meth:`_copy`); their ids come back in path order.
    """

    def __init__(self, ws: Workspace) -> None:
        self.objects = ws.objects
        self.links = tuple(ws.config.cache.link)
        self.seen: set[str] = set()  # same bytes twice: store once
        self.copy_all = _copies_only(self.links)
        self.copy_dev: int | None = None  # the device where links failed: copy from it
        self.pool: ThreadPoolExecutor | None = None
        self.copying = False  # files read from here on are stored by the threads

    def read(self, todo: Todo) -> Iterator[str]:
        """The ids of the files `todo` in order: the first hashed here (then linked, or
        copied: the link kinds are known to fail), the rest on threads."""
        if not todo:
            return
        if not self.copy_all:
            path, st, _ = todo[0]
            yield digest(path, st.st_size)  # `put` links it in, or notes that links fail
            todo = todo[1:]
        self.copying = self.copy_all or self.copy_dev is not None
        yield from self._on_threads(self._copy_batch if self.copying else _hash_batch, todo)

    def _on_threads(self, work: Callable[[Todo], list[str]], todo: Todo) -> Iterator[str]:
        """`work` over batches of `todo` on :data:`COPY_WORKERS` threads; ids in order.

        While `put` links one batch's files in on the calling thread, the
        threads hash the next ones: a `data add` of 2,000 files of 256 KiB with
        hard links went from 0.33 s to 0.24 s on 2 cores (medians of 11, interleaved).
        """
        if len(todo) <= 1:  # no thread for one file
            yield from work(todo)
            return
        from concurrent.futures import ThreadPoolExecutor  # not on `status`'s path

        self.pool = ThreadPoolExecutor(COPY_WORKERS, thread_name_prefix="mlcycle-read")
        size = max(1, min(_BATCH, len(todo) // (4 * COPY_WORKERS)))  # 4+ tasks per thread
        batches = [todo[i : i + size] for i in range(0, len(todo), size)]
        for oids in self.pool.map(work, batches):
            yield from oids

    def _copy_batch(self, todo: Todo) -> list[str]:
        """Read, hash and store the files `todo`; return their ids (on a worker thread)."""
        return [self._copy(p, st, last) for p, st, last in todo]

    def _copy(self, path: str, st: os.stat_result, last: str | None) -> str:
        """Store the file `path` listed with stat `st`; return its id.

        `last` is the id the stat cache had for `path`: if that object is
        stored, the file was probably only touched, so a large one is hashed
        before it is copied (copying while hashing would copy it for nothing).
        """
        if self.copy_all or st.st_dev == self.copy_dev:
            if st.st_size < _MMAP_FROM:
                return self.objects.copy_read(path, st)
            if last is None or not self.objects.exists(last):
                return self.objects.copy_hashing(path, st, lambda: digest(path, st.st_size))
        oid = digest(path, st.st_size)
        self.objects.add_file(path, oid, self.links, st)
        return oid

    def put(self, s: FileState, read: bool) -> None:
        """Store `s` unless stored; `read` False (from the stat cache) means probably stored."""
        if s.oid in self.seen or (not read and self.objects.exists(s.oid)):
            return
        self.seen.add(s.oid)
        if read and self.copying:
            return  # stored by `_copy` as it was read
        if self.objects.add_file(s.path, s.oid, self.links, s.stat) == "copy":
            self.copy_dev = s.stat.st_dev

    def __enter__(self) -> _Placer:
        return self

    def __exit__(self, *_: object) -> None:
        """Stop the copy threads: those running finish, queued ones are dropped."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _sibling(path: Path, tag: str) -> Path:
    return path.with_name(f".{path.name}.{new_id()}.{tag}")


def _build_dir(ws: Workspace, manifest: Manifest, tmp: Path, path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

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
