"""Content hashing with BLAKE3 (https://github.com/BLAKE3-team/BLAKE3-specs).

Object ids are the 64-character lowercase hex BLAKE3 digest of the bytes.
Files are hashed in 1 MiB chunks; files of 8 MiB and more use BLAKE3's
multithreaded mode (`max_threads=AUTO`), which hashes at memory speed.
"""

from __future__ import annotations

import os
from pathlib import Path

import blake3

_CHUNK = 1 << 20
_THREADED_FROM = 8 << 20


def hash_bytes(data: bytes) -> str:
    """Return the BLAKE3 hex digest (64 characters) of `data`."""
    return blake3.blake3(data).hexdigest()


def hash_file(path: str | os.PathLike[str]) -> str:
    """Return the BLAKE3 hex digest of the file at `path`.

    Raises:
        FileNotFoundError: if `path` does not exist.
    """
    size = Path(path).stat().st_size
    threads = blake3.blake3.AUTO if size >= _THREADED_FROM else 1
    hasher = blake3.blake3(max_threads=threads)
    if size >= _THREADED_FROM:
        hasher.update_mmap(os.fspath(path))
        return hasher.hexdigest()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def is_object_id(value: str) -> bool:
    """Return whether `value` looks like a BLAKE3 hex digest."""
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)
