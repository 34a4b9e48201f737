"""A content-addressed object store over fsspec.

Objects live at `<root>/<oid[:2]>/<oid[2:]>` where `oid` is the BLAKE3 hex
digest of the bytes (the layout of dvc-objects). Writes go to a temp name
and are renamed into place, so a reader never sees a partial object and a
killed writer leaves only a temp file; a put of bytes already stored is a
no-op. Reads check the hash, so silent corruption is an error, not a
wrong answer.

On the local file system the store also links files in and out by path
(:meth:`ObjectStore.add_file`, :meth:`ObjectStore.link_out`): a reflink
(copy-on-write clone), a hard link, a symbolic link or a kernel copy, tried
in the order given. Objects placed that way are read-only (mode 0o444), so
a link in the workspace cannot be edited into a corrupt object.

Local writes are built in the object's own fan-out folder: on Linux as an
anonymous `O_TMPFILE` inode that `linkat(2)` names once it is whole (a
killed writer leaves nothing behind), elsewhere as a `.<id>.tmp` file
renamed into place (which :func:`mlcycle.data.gc` removes when stale). A
large file copied while it is hashed (:meth:`ObjectStore.copy_hashing`)
has no id yet: its `O_TMPFILE` inode is made in the store's own folder.
A hard link needs no temp file: the source is made read-only and checked
unchanged first, then linked under its final name. Nothing is fsynced:
like git and DVC, the store relies on the rename/link being atomic.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat as stat_mod
import sys
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

from mlcycle.core import (
    DataError,
    IntegrityError,
    NotFound,
    hash_bytes,
    hash_file,
    new_id,
)

# `mlcycle.core.is_object_id` as a regex: 20x faster, and `data status` checks thousands.
_OBJECT_ID = re.compile(r"[0-9a-f]{64}")
#: Link kinds in the order :class:`mlcycle.core.CacheConfig` names them.
LINK_KINDS = ("reflink", "hardlink", "symlink", "copy")
_FICLONE = 0x40049409  # Linux ioctl: share the extents of one file with another
_READ_ONLY = 0o444
StrPath = str | os.PathLike[str]
_O_TMPFILE = getattr(os, "O_TMPFILE", 0)  # Linux only
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_COPY_CHUNK = 1 << 30  # bytes per sendfile call (the kernel caps one at 2 GiB)
_STEP = 64 << 20  # bytes per sendfile call of a copy that may be stopped (`_copy_while`)
#: errno values meaning "this file system (or platform) cannot do that kind of link".
_UNSUPPORTED = frozenset(
    {errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS}
    | {errno.EPERM, errno.EISDIR}
)


class ObjectStore:
    """Content-addressed blobs under an fsspec URL (local path, `file://`, `s3://` ...).

    Thread-safe and multi-process-safe: concurrent puts of the same bytes
    race only to rename identical content into place.

    Args:
        url: where objects live; a plain path means the local file system.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        #: The store's folder when it is on the local file system, else None.
        self.local_root: Path | None = None
        self._folders: set[str] = set()  # fan-out folders known to exist
        # Fan-out folders that may hold objects this store did not write (`_may_hold`).
        self._others: set[str] | None = None
        # (device of the source, link kind) pairs that failed as unsupported: not tried again.
        self._unsupported: set[tuple[int, str]] = set()
        self._tmpfile = bool(_O_TMPFILE)  # False once O_TMPFILE + linkat failed here
        if "://" not in url:  # a plain path: no fsspec import (20 ms) until needed
            self.root = os.path.abspath(url)
            os.makedirs(self.root, exist_ok=True)
            self.local_root = Path(self.root)
            return
        import fsspec

        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.fs.makedirs(self.root, exist_ok=True)
        if type(self.fs).__name__ == "LocalFileSystem":
            self.local_root = Path(self.root)

    @cached_property
    def fs(self) -> Any:
        """The fsspec file system the objects live on."""
        import fsspec

        return fsspec.filesystem("file")

    def path_of(self, oid: str) -> Path | None:
        """The local path of object `oid` (whether stored or not), or None if not local.

        Raises:
            NotFound: if `oid` is not a BLAKE3 hex digest.
        """
        if self.local_root is None:
            return None
        return Path(self._path(oid))

    def _path(self, oid: str) -> str:
        if not _OBJECT_ID.fullmatch(oid):
            raise NotFound(f"object id {oid!r} is not a 64-hex BLAKE3 digest")
        return f"{self.root}/{oid[:2]}/{oid[2:]}"

    def exists(self, oid: str) -> bool:
        """Return whether the object `oid` is stored."""
        if self.local_root is not None:
            return os.path.exists(self._path(oid))
        return bool(self.fs.exists(self._path(oid)))

    def _commit(self, oid: str, upload: Any) -> str:
        final = self._path(oid)
        if self.fs.exists(final):
            return oid
        tmp = f"{self.root}/tmp/{new_id()}"
        self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)
        try:
            upload(tmp)
            self.fs.makedirs(f"{self.root}/{oid[:2]}", exist_ok=True)
            self.fs.mv(tmp, final)
        finally:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)
        return oid

    def put_bytes(self, data: bytes) -> str:
        """Store `data`; return its object id (BLAKE3 hex)."""
        oid = hash_bytes(data)
        if self.local_root is not None:  # no fsspec import on the local fast path
            if not (self._may_hold(oid) and os.path.exists(self._path(oid))):
                self._write_local(oid, lambda fd: _write_all(fd, data))
            return oid
        return self._commit(oid, lambda tmp: self.fs.pipe_file(tmp, data))

    def put_file(self, path: str | os.PathLike[str]) -> str:
        """Store the file at `path` (streamed, never read whole); return its object id."""
        oid = hash_file(path)
        if self.local_root is not None:
            self.add_file(Path(path), oid, ("copy",))
            return oid
        return self._commit(oid, lambda tmp: self.fs.put_file(os.fspath(path), tmp))

    def get_bytes(self, oid: str) -> bytes:
        """Return the bytes of object `oid`.

        Raises:
            NotFound: if no such object is stored.
            IntegrityError: if the stored bytes do not hash to `oid`.
        """
        try:
            if self.local_root is not None:  # no fsspec import on the local fast paths
                data = Path(self._path(oid)).read_bytes()
            else:
                data = self.fs.cat_file(self._path(oid))
        except FileNotFoundError:
            raise NotFound(f"object {oid} is not in the object store {self.url}") from None
        if hash_bytes(data) != oid:
            raise IntegrityError(f"object {oid} in {self.url} is corrupt (hash mismatch)")
        return data

    def get_file(self, oid: str, dest: str | os.PathLike[str]) -> Path:
        """Copy object `oid` to `dest` atomically, verifying its hash.

        Raises:
            NotFound: if no such object is stored.
            IntegrityError: if the copied bytes do not hash to `oid`.
        """
        target = Path(dest)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{new_id()}.tmp")
        try:
            try:
                self.fs.get_file(self._path(oid), os.fspath(tmp))
            except FileNotFoundError:
                raise NotFound(f"object {oid} is not in the object store {self.url}") from None
            if hash_file(tmp) != oid:
                raise IntegrityError(f"object {oid} in {self.url} is corrupt (hash mismatch)")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return target

    def add_file(
        self,
        src: StrPath,
        oid: str,
        links: tuple[str, ...],
        stat: os.stat_result | None = None,
    ) -> str:
        """Store the file `src` already known to hash to `oid`, linking it in if possible.

        Tries `links` in order (`symlink` does not apply to the store and is
        skipped; `copy` is always the last resort). The object is read-only;
        a hard link makes `src` itself read-only. A kind that failed as
        unsupported on `src`'s device is not tried again by this store.

        Args:
            src: the file.
            oid: its BLAKE3 id (from a hash taken when its stat was `stat`).
            links: link kinds to try, e.g. `("reflink", "hardlink", "copy")`.
            stat: `src`'s stat when it was hashed; if given and `src` changed
                since (size, mtime or inode), nothing is stored.

        Returns:
            The link kind used, or `"exists"` if the object was already stored.

        Raises:
            DataError: if `src` changed while it was being added.
            FileNotFoundError: if `src` does not exist.
        """
        final = self._path(oid)
        if self.local_root is None:
            self._commit(oid, lambda tmp: self.fs.put_file(os.fspath(src), tmp))
            return "copy"
        if os.path.exists(final):
            return "exists"
        self._folder(oid)
        dev = stat.st_dev if stat is not None else os.stat(src).st_dev
        for kind in links:
            if kind == "copy":
                break
            if kind == "symlink" or (dev, kind) in self._unsupported:
                continue
            try:
                return self._link_in(kind, src, final, stat)
            except OSError as err:
                if err.errno in _UNSUPPORTED:
                    self._unsupported.add((dev, kind))
        return self._copy_in(src, oid, stat)

    def copy_read(self, src: StrPath, before: os.stat_result) -> str:
        """Store a copy of the file `src`, read whole (so: a small file); return its id.

        The bytes are read once, then hashed and written to the object from
        memory, so the object is exactly the bytes hashed; the kernel copy of
        :meth:`add_file` would read `src` a second time. Nothing is stored if
        `src` changed since `before` was taken.

        Args:
            src: the file.
            before: its stat when it was listed; size, mtime and inode must
                still agree once it is read.

        Raises:
            DataError: if `src` changed since `before`.
            FileNotFoundError: if `src` does not exist.
        """
        fd = os.open(src, os.O_RDONLY | _CLOEXEC)
        try:
            # The listed size: a file that grew or shrank since shows it in the fstat after.
            data = _read_upto(fd, before.st_size)
            _check_unchanged_stat(src, before, os.fstat(fd))
        finally:
            os.close(fd)
        return self.put_bytes(data)

    def copy_hashing(self, src: StrPath, before: os.stat_result, digest: Callable[[], str]) -> str:
        """Store a copy of the (large) file `src` while `digest()` hashes it; return its id.

        The kernel copies `src` into an anonymous `O_TMPFILE` inode on a
        thread while this thread runs `digest()`; the inode is named by the id
        once both are done (a killed writer leaves nothing). If the object is
        already stored the copy stops early and is dropped. Without
        `O_TMPFILE` (or off the local file system) the file is hashed, then
        stored by :meth:`add_file`.

        Args:
            src: the file.
            before: its stat when it was listed; size, mtime and inode must
                still agree once it is copied.
            digest: returns the BLAKE3 id of `src` (called on this thread).

        Raises:
            DataError: if `src` changed since `before`.
            FileNotFoundError: if `src` does not exist.
        """
        out = self._open_tmpfile(self.root) if self.local_root is not None else None
        if out is None:
            oid = digest()
            self.add_file(src, oid, ("copy",), before)
            return oid
        try:
            with open(src, "rb", buffering=0) as f:
                oid, copied = _copy_while(f.fileno(), out, digest, self.exists)
                _check_unchanged_stat(src, before, os.fstat(f.fileno()))
            if copied and not self._link_tmpfile(out, oid):  # no /proc: by a named temp file
                self.add_file(src, oid, ("copy",), before)
        finally:
            os.close(out)
        return oid

    def _open_tmpfile(self, folder: str) -> int | None:
        """A new read-only `O_TMPFILE` inode in `folder`, or None where there are none."""
        if not self._tmpfile:
            return None
        try:
            return os.open(folder, os.O_WRONLY | _O_TMPFILE | _CLOEXEC, _READ_ONLY)
        except OSError as err:
            if err.errno not in _UNSUPPORTED:
                raise
            self._tmpfile = False
            return None

    def _link_tmpfile(self, fd: int, oid: str) -> str:
        """Name the whole `O_TMPFILE` inode `fd` as object `oid`.

        Returns `"copy"`, `"exists"` if a concurrent writer stored the same
        bytes first, or `""` if `linkat` cannot name it here (no `/proc`).
        """
        self._folder(oid)
        try:
            # linkat(AT_SYMLINK_FOLLOW) names the anonymous inode; Python calls linkat (not
            # link) only when a dir fd is given, and the kernel ignores it for an absolute
            # path, so the file's own fd serves.
            os.link(f"/proc/self/fd/{fd}", self._path(oid), src_dir_fd=fd)
        except FileExistsError:
            return "exists"
        except OSError as err:
            if err.errno not in (errno.ENOENT, errno.EXDEV, errno.EPERM):
                raise
            self._tmpfile = False  # no /proc, say: rename from now on
            return ""
        return "copy"

    def _may_hold(self, oid: str) -> bool:
        """False if `oid` can only be stored by this store object (so: rarely stored yet).

        That is so when its fan-out folder was missing at the first look (one
        listing of the store's folder) and this store created it: `put_bytes`
        then skips the `stat` of the object (a first `data add` of 2,000
        files saves 2,000). An object stored meanwhile (same bytes twice, or
        another process) is written again and dropped when `linkat` finds the
        name taken. Without `O_TMPFILE` (a temp file renamed over the name)
        the answer is always True.
        """
        if not self._tmpfile:
            return True
        if self._others is None:
            self._others = set(os.listdir(self.root))
        return oid[:2] in self._others

    def _folder(self, oid: str) -> None:
        """Create the fan-out folder of `oid` (once per store)."""
        folder = oid[:2]
        if folder not in self._folders:
            try:
                os.mkdir(f"{self.root}/{folder}")
            except FileExistsError:  # made by another process (or thread): may hold its objects
                if self._others is not None:
                    self._others.add(folder)
            self._folders.add(folder)

    def _link_in(self, kind: str, src: StrPath, final: str, before: os.stat_result | None) -> str:
        """Place `src` at `final` by `kind` (`reflink` or `hardlink`); OSError if it cannot."""
        if kind == "reflink":
            tmp = Path(f"{final[: final.rindex('/')]}/.{new_id()}.tmp")
            try:
                _reflink(src, tmp)
                _check_unchanged(src, before)
                os.chmod(tmp, _READ_ONLY)
                os.replace(tmp, final)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            return "reflink"
        mode = stat_mod.S_IMODE(before.st_mode if before is not None else os.stat(src).st_mode)
        os.chmod(src, _READ_ONLY)  # first: the object must never be writable, nor change
        try:
            _check_unchanged(src, before)
            os.link(src, final)
            return "hardlink"
        except BaseException as err:
            os.chmod(src, mode)
            if isinstance(err, FileExistsError):  # a concurrent writer stored the same bytes
                return "exists"
            raise

    def _copy_in(self, src: StrPath, oid: str, before: os.stat_result | None) -> str:
        """Copy `src` (by the kernel) into a new object `oid`; `"exists"` if a racer won."""
        fd = os.open(src, os.O_RDONLY | _CLOEXEC)
        try:

            def fill(out: int) -> None:
                os.lseek(fd, 0, os.SEEK_SET)  # a retry by another method starts over
                _copy_fd(fd, out)
                if before is not None:
                    _check_unchanged_stat(src, before, os.fstat(fd))

            return "copy" if self._write_local(oid, fill) else "exists"
        finally:
            os.close(fd)

    def _write_local(self, oid: str, fill: Callable[[int], None]) -> bool:
        """Write object `oid` with `fill(fd)` so it appears whole or not at all.

        Uses an `O_TMPFILE` inode named by `linkat` once filled where the
        platform allows, else a `.<id>.tmp` file renamed into place, both in
        the object's own folder. Returns False if the object already existed.
        """
        self._folder(oid)
        final = self._path(oid)
        folder = final[: final.rindex("/")]
        fd = self._open_tmpfile(folder)
        if fd is not None:
            try:
                fill(fd)
                if used := self._link_tmpfile(fd, oid):
                    return used == "copy"
            finally:
                os.close(fd)
        return self._write_renamed(folder, final, fill)

    def _write_renamed(self, folder: str, final: str, fill: Callable[[int], None]) -> bool:
        """:meth:`_write_local` by a named temp file in `folder` renamed to `final`."""
        tmp = Path(f"{folder}/.{new_id()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC, _READ_ONLY)
        try:
            try:
                fill(fd)
            finally:
                os.close(fd)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return True

    def link_out(self, oid: str, dest: Path, links: tuple[str, ...]) -> str:
        """Place object `oid` at the new path `dest` (which must not exist).

        Hard and symbolic links share the read-only object; reflinks and
        copies are private, writable files. A remote store copies (hash-verified).

        Returns:
            The link kind used.

        Raises:
            NotFound: if the object is not stored.
        """
        src = self.path_of(oid)
        if src is None:
            self.get_file(oid, dest)
            return "copy"
        if not src.exists():
            raise NotFound(f"object {oid} is not in the object store {self.url}")
        used = place(src, dest, list(links))
        if used in ("reflink", "copy"):
            os.chmod(dest, 0o644)
        return used


def _check_unchanged(src: StrPath, before: os.stat_result | None) -> None:
    if before is not None:
        _check_unchanged_stat(src, before, os.stat(src))


def _check_unchanged_stat(src: StrPath, before: os.stat_result, now: os.stat_result) -> None:
    """Raise DataError unless size, mtime and inode (if known: 0 from a Windows scandir) agree."""
    same_inode = before.st_ino in (0, now.st_ino)
    if not same_inode or (now.st_size, now.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise DataError(f"{src} changed while it was being added; run the command again")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _copy_while(
    src: int, dest: int, digest: Callable[[], str], stored: Callable[[str], bool]
) -> tuple[str, bool]:
    """Copy the rest of file `src` to `dest` on a thread while `digest()` runs here.

    Returns the id, and False instead of True if the object was `stored`
    already: then the copy stopped within :data:`_STEP` bytes, to be dropped.
    """
    import threading

    stop = threading.Event()
    failed: list[BaseException] = []

    def copy() -> None:
        try:
            while not stop.is_set() and _send(src, dest, _STEP):
                pass
        except BaseException as err:  # raised again on the calling thread
            failed.append(err)

    thread = threading.Thread(target=copy, name="mlcycle-copy")
    thread.start()
    try:
        oid = digest()
        if stored(oid):
            stop.set()
    except BaseException:
        stop.set()
        raise
    finally:
        thread.join()
    if failed:
        raise failed[0]
    return oid, not stop.is_set()


def _send(src: int, dest: int, count: int) -> int:
    """Copy up to `count` bytes from `src`'s position to `dest`; 0 at the end of `src`."""
    try:
        return os.sendfile(dest, src, None, count)
    except OSError as err:
        if err.errno not in _UNSUPPORTED:
            raise
    chunk = os.read(src, min(count, 1 << 20))
    _write_all(dest, chunk)
    return len(chunk)


def _read_upto(fd: int, size: int) -> bytes:
    """Read file `fd` to its end or to `size` bytes, whichever comes first."""
    chunks = []
    while size > 0 and (chunk := os.read(fd, size)):
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)  # one chunk: that very object, not a copy


def _copy_fd(src: int, dest: int) -> None:
    """Copy the rest of file `src` to `dest`: by the kernel (`sendfile(2)`) on Linux.

    `sendfile`, as `shutil.copyfile` uses: `copy_file_range` measured up to 2x
    slower on ext4 here when the copy competes with other work for memory.
    """
    if sys.platform == "linux":  # macOS and the BSDs send to sockets only
        try:
            while os.sendfile(dest, src, None, _COPY_CHUNK):
                pass
            return
        except OSError as err:
            if err.errno not in _UNSUPPORTED:
                raise
    while chunk := os.read(src, 1 << 20):
        _write_all(dest, chunk)


def _reflink(src: StrPath, dest: Path) -> None:
    import fcntl

    with open(src, "rb") as s, open(dest, "xb") as d:
        try:
            fcntl.ioctl(d.fileno(), _FICLONE, s.fileno())
        except OSError:
            dest.unlink(missing_ok=True)
            raise


def _copy(src: Path, dest: Path) -> None:
    if dest.exists():
        raise FileExistsError(dest)
    shutil.copyfile(src, dest)  # sendfile / copy_file_range: the kernel copies


def _symlink(src: Path, dest: Path) -> None:
    os.symlink(src.resolve(), dest)


_PLACERS: dict[str, Callable[[Path, Path], None]] = {
    "reflink": _reflink,
    "hardlink": os.link,
    "symlink": _symlink,
    "copy": _copy,
}


def place(src: Path, dest: Path, links: list[str]) -> str:
    """Make `dest` (a new path) hold the bytes of `src` by the first link kind that works.

    Falls back to a copy if every kind in `links` fails (no reflink support,
    another file system, no symlink permission).

    Returns:
        The link kind used.
    """
    for kind in links:
        if kind == "copy":
            break
        try:
            _PLACERS[kind](src, dest)
            return kind
        except (OSError, NotImplementedError):
            continue
    _copy(src, dest)
    return "copy"


def move_into_place(src: Path, dest: Path) -> Path:
    """Move the folder `src` to `dest` unless `dest` already exists (then drop `src`)."""
    try:
        os.rename(src, dest)
    except OSError:
        if not dest.exists():
            raise
        shutil.rmtree(src, ignore_errors=True)
    return dest
