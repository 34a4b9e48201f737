"""Data remotes: copy tracked data between the cache and any fsspec URL.

A remote has the cache's layout (`<oid[:2]>/<oid[2:]>`), so it is an
:class:`~mlcycle.store.ObjectStore` too. `push` and `pull` list both sides
once, move only the missing objects in parallel threads, and never leave a
partial object at a final path. Push to a file system with an atomic
rename (a local folder, SFTP ...) uploads to `tmp/<id>`, checks the BLAKE3
hash on arrival, then renames; to an object store (S3, GCS, Azure), whose
PUT is atomic, it uploads to the final key and checks the size. Pull
downloads to a temp file, checks the hash, then adds it to the cache.

An interrupted transfer raises :class:`~mlcycle.core.RemoteError`; what
arrived stays, so the next run moves only the rest. Credentials and
endpoints come from the backend's own configuration (for S3: the standard
`AWS_*` variables, `AWS_ENDPOINT_URL` for an S3-compatible server).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mlcycle.core import (
    Config,
    ConfigError,
    DataError,
    MlcycleError,
    NotFound,
    RemoteError,
    hash_file,
    is_object_id,
    new_id,
)
from mlcycle.data._manifest import objects_of
from mlcycle.data._pointers import Pointer, pointer_path, read_pointer, target_path
from mlcycle.data._targets import find_pointers, resolve_target

if TYPE_CHECKING:  # the store package imports SQLAlchemy, which push and pull never need
    from mlcycle.store import ObjectStore, Workspace

#: Called from the calling thread as `progress(done, total)` (object counts).
Progress = Callable[[int, int], None]
T = TypeVar("T")

# Object stores whose PUT makes the whole object visible at once, or not at all.
ATOMIC_PUT_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"})


@dataclass(frozen=True)
class TransferResult:
    """What a push or pull moved.

    `sent`: objects transferred; `skipped`: objects already on the other
    side; `bytes`: bytes transferred; `remote`: the remote's URL.
    """

    remote: str
    sent: int
    skipped: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return asdict(self)


def remote_url(config: Config, name: str | None = None) -> str:
    """The URL of remote `name`, else of `default_remote`, else of the only remote.

    Raises:
        ConfigError: if no remote is configured, `name` is unknown, or
            several remotes exist and none is the default.
    """
    if name is None:
        name = config.default_remote
    if name is None and len(config.remotes) == 1:
        name = next(iter(config.remotes))
    if name is None:
        if not config.remotes:
            raise ConfigError(
                "No data remote configured: run 'mlcycle data remote add NAME URL --default'"
            )
        raise ConfigError(
            f"Several remotes ({', '.join(sorted(config.remotes))}) and no default_remote: "
            "pass -r NAME or run 'mlcycle data remote add NAME URL --default'"
        )
    if name not in config.remotes:
        known = ", ".join(sorted(config.remotes)) or "none"
        raise ConfigError(f"Unknown remote {name!r} (configured: {known})")
    return config.remotes[name]


def find_pointer_files(ws: Workspace, paths: Sequence[str | Path] | None = None) -> list[Path]:
    """Pointer files (`*.mlc`) in the workspace, or those of `paths`, sorted.

    A path may be a pointer file, the tracked file or folder it stands for,
    or a folder to scan (relative paths as in :func:`resolve_target`). Scans
    skip `.mlcycle/`, `.git/`, `.venv/` and the insides of tracked folders.

    Raises:
        DataError: if a given path has no pointer file and is not a folder.
    """
    if paths is None:
        return find_pointers(ws.root)
    found: list[Path] = []
    for path in paths:
        target = resolve_target(ws, path)
        if pointer_path(target).is_file():
            found.append(pointer_path(target))
        elif target.is_dir():
            found.extend(find_pointers(target))
        else:
            raise DataError(f"{path} is not tracked: run 'mlcycle data add {path}' first")
    return sorted(dict.fromkeys(found))


def _guard(url: str, what: str, action: Callable[[], T]) -> T:
    """Run `action`, turning a backend's own error into a RemoteError naming `url`."""
    try:
        return action()
    except MlcycleError:
        raise
    except ImportError as err:  # fsspec names the package a URL scheme needs
        raise ConfigError(
            f"Remote {url} needs a package that is not installed ({err}); "
            "for S3: pip install 'mlcycle[s3]'"
        ) from None
    except Exception as err:  # fsspec backends raise their own types (OSError, botocore ...)
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise RemoteError(
            f"Remote {url}: {what} failed ({type(err).__name__}: {detail}); "
            "check the remote is reachable and writable, then rerun to resume"
        ) from err


def open_remote(url: str) -> ObjectStore:
    """Open the remote at `url` as an object store (its root is created if missing).

    Raises:
        RemoteError: if the remote cannot be reached.
    """
    from mlcycle.store._objects import ObjectStore

    return _guard(url, "opening the remote", lambda: ObjectStore(url))


def listing(store: ObjectStore) -> dict[str, int]:
    """Every complete object in `store` with its size in bytes (one recursive listing).

    Temp files (under `tmp/` or not named by a BLAKE3 id) are left out.
    """
    store.fs.invalidate_cache(store.root)  # s3fs caches listings; we need the truth
    found: dict[str, Any] = _guard(
        store.url, "listing", lambda: store.fs.find(store.root, detail=True)
    )
    sizes: dict[str, int] = {}
    for path, info in found.items():
        parts = path.rsplit("/", 2)
        if len(parts) == 3 and len(parts[1]) == 2 and is_object_id(parts[1] + parts[2]):
            sizes[parts[1] + parts[2]] = int(info.get("size") or 0)
    return sizes


def _protocols(store: ObjectStore) -> tuple[str, ...]:
    protocol = store.fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _transfer(
    oids: Sequence[str],
    send: Callable[[str], int],
    jobs: int,
    progress: Progress | None,
) -> int:
    """Run `send(oid)` (returns bytes moved) for every oid in `jobs` threads; total bytes.

    On the first error the objects not started are cancelled, those in
    flight finish (each cleans up its own temp file), and the error is raised.
    """
    total, done, moved = len(oids), 0, 0
    if progress is not None:
        progress(0, total)
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="mlcycle-transfer")
    try:
        futures: list[Future[int]] = [pool.submit(send, oid) for oid in oids]
        for future in as_completed(futures):
            moved += future.result()
            done += 1
            if progress is not None:
                progress(done, total)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return moved


def _pointers(ws: Workspace, targets: Sequence[str | Path] | None) -> list[tuple[Path, Pointer]]:
    return [(pf, read_pointer(pf)) for pf in find_pointer_files(ws, targets)]


def _needed(store: ObjectStore, pointers: Iterable[tuple[Path, Pointer]]) -> list[str]:
    oids: dict[str, None] = {}
    for pf, p in pointers:
        try:
            oids.update(dict.fromkeys(objects_of(store, p.kind, p.oid)))
        except NotFound:
            raise NotFound(
                f"{pf}: the folder manifest {p.oid} is not in the cache; "
                f"run 'mlcycle data pull {pf}' or 'mlcycle data add' on the folder again"
            ) from None
    return list(oids)


# ---- push -----------------------------------------------------------------


def push(
    ws: Workspace,
    targets: Sequence[str | Path] | None = None,
    remote: str | None = None,
    *,
    jobs: int = 8,
    progress: Progress | None = None,
) -> TransferResult:
    """Send the cached objects of tracked data to a remote, only those it lacks.

    Args:
        ws: the workspace whose cache (`ws.objects`) is the source.
        targets: pointer files or tracked paths; default every pointer in the workspace.
        remote: a remote's name in `mlcycle.yaml`; default `default_remote`.
        jobs: parallel uploads.
        progress: called with (objects done, objects to send).

    Raises:
        ConfigError: if the remote is not configured.
        DataError: if a target is not tracked.
        NotFound: if an object to push is not in the cache.
        RemoteError: if the remote fails; rerun to send the rest.
    """
    url = remote_url(ws.config, remote)
    store = open_remote(url)
    oids = _needed(ws.objects, _pointers(ws, targets))
    cached = listing(ws.objects)
    there = listing(store)
    todo = [o for o in oids if o not in there]
    absent = [o for o in todo if o not in cached]  # fine if the remote has it already
    if absent:
        raise NotFound(
            f"{len(absent)} objects to push are not in the cache (first {absent[0]}); "
            "run 'mlcycle data add' on the data or pull it from where it was pushed"
        )
    _guard(url, "creating the temp folder", lambda: store.fs.makedirs(_tmp(store), exist_ok=True))
    with tempfile.TemporaryDirectory(prefix="mlcycle-push-") as scratch:

        def send(oid: str) -> int:
            src = _local_source(ws.objects, oid, Path(scratch))
            _guard(url, f"uploading object {oid}", lambda: _upload(store, src, oid, cached[oid]))
            return cached[oid]

        moved = _transfer(todo, send, jobs, progress)
    return TransferResult(url, len(todo), len(oids) - len(todo), moved)


def _tmp(store: ObjectStore) -> str:
    return f"{store.root}/tmp"


def _local_source(cache: ObjectStore, oid: str, scratch: Path) -> str:
    """A local file holding object `oid`: the cached file itself, or a verified copy."""
    path = cache.path_of(oid)
    return str(path if path is not None else cache.get_file(oid, scratch / oid))


def _upload(store: ObjectStore, src: str, oid: str, size: int) -> None:
    final = store._path(oid)
    if ATOMIC_PUT_PROTOCOLS.intersection(_protocols(store)):
        store.fs.put_file(src, final)
        _check_arrival(store, final, oid, size)
        return
    tmp = f"{_tmp(store)}/{new_id()}"
    try:
        store.fs.put_file(src, tmp)
        _check_arrival(store, tmp, oid, size)
        store.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        store.fs.mv(tmp, final)
    finally:
        if store.fs.exists(tmp):
            store.fs.rm(tmp)


def _check_arrival(store: ObjectStore, path: str, oid: str, size: int) -> None:
    """Check what arrived at `path`: its hash where it is local, else its size."""
    got = int(store.fs.info(path)["size"])
    corrupt = got != size or (store.local_root is not None and hash_file(path) != oid)
    if corrupt:
        store.fs.rm(path)  # never leave a wrong object at a final key
        raise RemoteError(
            f"Remote {store.url}: object {oid} arrived corrupt ({got} of {size} bytes); "
            "rerun to send it again"
        )


# ---- pull -----------------------------------------------------------------


def pull(
    ws: Workspace,
    targets: Sequence[str | Path] | None = None,
    remote: str | None = None,
    *,
    jobs: int = 8,
    progress: Progress | None = None,
    restore: bool = True,
) -> TransferResult:
    """Fetch the objects of tracked data from a remote into the cache, then restore the data.

    Args:
        ws: the workspace whose cache (`ws.objects`) receives the objects.
        targets: pointer files or tracked paths; default every pointer in the workspace.
        remote: a remote's name in `mlcycle.yaml`; default `default_remote`.
        jobs: parallel downloads.
        progress: called with (objects done, objects to fetch so far).
        restore: also place the tracked files and folders back in the workspace.

    Raises:
        ConfigError: if the remote is not configured.
        DataError: if a target is not tracked.
        NotFound: if an object is on neither the remote nor in the cache.
        IntegrityError: if a fetched object does not match its hash.
        RemoteError: if the remote fails; rerun to fetch the rest.
    """
    url = remote_url(ws.config, remote)
    store = open_remote(url)
    pointers = _pointers(ws, targets)
    there, counts = listing(store), [0, 0, 0]  # sent, skipped, bytes
    base = 0

    def fetch(oids: Sequence[str]) -> None:
        nonlocal base
        cached = listing(ws.objects)
        todo = [o for o in dict.fromkeys(oids) if o not in cached]
        _require_on_remote(url, todo, there)
        shifted = None if progress is None else _shift(progress, base)
        counts[2] += _transfer(todo, lambda o: _download(store, ws.objects, o), jobs, shifted)
        counts[0] += len(todo)
        counts[1] += len(dict.fromkeys(oids)) - len(todo)
        base += len(todo)

    manifests = [p.oid for _, p in pointers if p.kind == "dir"]
    fetch(manifests)  # a folder's file list is in its manifest: fetch those first
    fetch([o for o in _needed(ws.objects, pointers) if o not in manifests])
    if restore:
        _restore(ws, pointers)
    return TransferResult(url, counts[0], counts[1], counts[2])


def _shift(progress: Progress, base: int) -> Progress:
    return lambda done, total: progress(base + done, base + total)


def _require_on_remote(url: str, todo: Sequence[str], there: dict[str, int]) -> None:
    missing = [o for o in todo if o not in there]
    if missing:
        raise NotFound(
            f"{len(missing)} objects are neither in the cache nor on remote {url} "
            f"(first {missing[0]}); push them from the machine that added the data"
        )


def _download(store: ObjectStore, cache: ObjectStore, oid: str) -> int:
    """Fetch `oid` to a scratch file (hash-checked), then add it to the cache atomically."""
    local = cache.local_root
    scratch_dir = local / "tmp" if local is not None else Path(tempfile.gettempdir())
    scratch_dir.mkdir(parents=True, exist_ok=True)
    # Same folder as the cache, so the cache can hard-link the file in, not copy it.
    scratch = scratch_dir / f"pull-{new_id()}"
    try:
        try:
            _guard(store.url, f"downloading object {oid}", lambda: store.get_file(oid, scratch))
        except NotFound:  # it was listed a moment ago: the remote went away
            raise RemoteError(
                f"Remote {store.url}: object {oid} vanished during the pull; "
                "check the remote, then rerun to resume"
            ) from None
        size = scratch.stat().st_size
        cache.add_file(scratch, oid, ("hardlink", "copy"))
    finally:
        scratch.unlink(missing_ok=True)
    return size


def _restore(ws: Workspace, pointers: Sequence[tuple[Path, Pointer]]) -> None:
    from mlcycle.data import restore_path  # the checkout side of the data layer

    for pf, p in pointers:
        restore_path(ws, p.kind, p.oid, target_path(pf))
