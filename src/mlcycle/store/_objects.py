"""A content-addressed object store over fsspec.

Objects live at `<root>/<oid[:2]>/<oid[2:]>` where `oid` is the BLAKE3 hex
digest of the bytes (the layout of dvc-objects). Writes go to a temp name
and are renamed into place, so a reader never sees a partial object and a
killed writer leaves only a temp file; a put of bytes already stored is a
no-op. Reads check the hash, so silent corruption is an error, not a
wrong answer.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import fsspec

from mlcycle.core import IntegrityError, NotFound, hash_bytes, hash_file, is_object_id, new_id


class ObjectStore:
    """Content-addressed blobs under an fsspec URL (local path, `file://`, `s3://` ...).

    Thread-safe and multi-process-safe: concurrent puts of the same bytes
    race only to rename identical content into place.

    Args:
        url: where objects live; a plain path means the local file system.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.fs: Any
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.fs.makedirs(self.root, exist_ok=True)

    def _path(self, oid: str) -> str:
        if not is_object_id(oid):
            raise NotFound(f"object id {oid!r} is not a 64-hex BLAKE3 digest")
        return f"{self.root}/{oid[:2]}/{oid[2:]}"

    def exists(self, oid: str) -> bool:
        """Return whether the object `oid` is stored."""
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
            data: bytes = self.fs.cat_file(self._path(oid))
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


def move_into_place(src: Path, dest: Path) -> Path:
    """Move the folder `src` to `dest` unless `dest` already exists (then drop `src`)."""
    try:
        os.rename(src, dest)
    except OSError:
        if not dest.exists():
            raise
        shutil.rmtree(src, ignore_errors=True)
    return dest
