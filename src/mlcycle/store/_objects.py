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
"""

from __future__ import annotations

import os
import shutil
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
    is_object_id,
    new_id,
)

#: Link kinds in the order :class:`mlcycle.core.CacheConfig` names them.
LINK_KINDS = ("reflink", "hardlink", "symlink", "copy")
_FICLONE = 0x40049409  # Linux ioctl: share the extents of one file with another
_READ_ONLY = 0o444


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
        if not is_object_id(oid):
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
        return self._commit(oid, lambda tmp: self.fs.pipe_file(tmp, data))

    def put_file(self, path: str | os.PathLike[str]) -> str:
        """Store the file at `path` (streamed, never read whole); return its object id."""
        oid = hash_file(path)
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
        self, src: Path, oid: str, links: tuple[str, ...], stat: os.stat_result | None = None
    ) -> str:
        """Store the file `src` already known to hash to `oid`, linking it in if possible.

        Tries `links` in order (`symlink` does not apply to the store and is
        skipped; `copy` is always the last resort). The object is read-only.

        Args:
            src: the file.
            oid: its BLAKE3 id (from a hash taken when its stat was `stat`).
            links: link kinds to try, e.g. `("reflink", "hardlink", "copy")`.
            stat: `src`'s stat when it was hashed; if given and `src` changed
                since, nothing is stored.

        Returns:
            The link kind used, or `"exists"` if the object was already stored.

        Raises:
            DataError: if `src` changed while it was being added.
        """
        final = self.path_of(oid)
        if final is None:
            self._commit(oid, lambda tmp: self.fs.put_file(os.fspath(src), tmp))
            return "copy"
        if final.exists():
            return "exists"
        tmp = self.local_root / "tmp" / new_id()  # type: ignore[operator]
        tmp.parent.mkdir(exist_ok=True)
        try:
            used = place(src, tmp, [k for k in links if k != "symlink"])
            _check_unchanged(src, stat)
            os.chmod(tmp, _READ_ONLY)
            final.parent.mkdir(exist_ok=True)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        return used

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


def _check_unchanged(src: Path, before: os.stat_result | None) -> None:
    if before is None:
        return
    now = os.stat(src)
    if (now.st_size, now.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise DataError(f"{src} changed while it was being added; run the command again")


def _reflink(src: Path, dest: Path) -> None:
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
