"""Folder manifests: the content address of a tracked folder.

A folder is stored as its files' objects plus one manifest object that lists
every file's path (POSIX, relative to the folder), BLAKE3 object id and size
in bytes, sorted by path. The manifest's own BLAKE3 digest is the folder's
id, so two folders with the same files have the same id whatever order
they were walked in, and a change to one file changes one entry (a flat
Merkle tree, like DVC's `.dir` objects).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mlcycle.core import IntegrityError, hash_bytes

if TYPE_CHECKING:
    from mlcycle.store import ObjectStore

Kind = Literal["file", "dir"]
Row = tuple[str, str, int]  # (path, oid, size): one entry as encoded
# `mlcycle.core.is_object_id` as a regex: 20x faster, and `data status` checks thousands.
_OBJECT_ID = re.compile(r"[0-9a-f]{64}")


def manifest_bytes(rows: Iterable[Row]) -> bytes:
    """The canonical encoding of a manifest with these (path, oid, size) rows, in any order.

    UTF-8 JSON without spaces, rows sorted by path: its BLAKE3 digest is the folder's id.
    """
    ordered = sorted(rows, key=lambda r: r[0])
    return json.dumps({"entries": ordered}, separators=(",", ":")).encode()


@dataclass(frozen=True)
class ManifestEntry:
    """One file of a folder: `path` (POSIX, relative), BLAKE3 `oid`, `size` in bytes."""

    path: str
    oid: str
    size: int


@dataclass(frozen=True)
class Manifest:
    """The files of a tracked folder, sorted by path."""

    entries: tuple[ManifestEntry, ...]

    @classmethod
    def of(cls, entries: list[ManifestEntry]) -> Manifest:
        """Build a manifest from entries in any order."""
        return cls(tuple(sorted(entries, key=lambda e: e.path)))

    @property
    def size(self) -> int:
        """Total bytes of all files."""
        return sum(e.size for e in self.entries)

    @property
    def files(self) -> int:
        """Number of files."""
        return len(self.entries)

    def to_bytes(self) -> bytes:
        """The canonical JSON encoding (UTF-8, no spaces) whose hash is the folder id."""
        return manifest_bytes((e.path, e.oid, e.size) for e in self.entries)

    @property
    def oid(self) -> str:
        """The folder's id: the BLAKE3 digest of :meth:`to_bytes`."""
        return hash_bytes(self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes, source: str) -> Manifest:
        """Parse a manifest.

        Raises:
            IntegrityError: if the bytes are not a manifest (naming `source`).
        """
        try:
            rows = json.loads(data)["entries"]
            entries = [ManifestEntry(str(p), str(o), int(n)) for p, o, n in rows]
        except (ValueError, KeyError, TypeError) as err:
            raise IntegrityError(f"{source} is not a folder manifest: {err}") from None
        if not all(_OBJECT_ID.fullmatch(e.oid) for e in entries):
            raise IntegrityError(f"{source} lists an entry that is not a BLAKE3 id")
        return cls.of(entries)


def load_manifest(store: ObjectStore, oid: str) -> Manifest:
    """Read the manifest object `oid` from `store` (hash-verified).

    Raises:
        NotFound: if the object is not in the store.
        IntegrityError: if it is corrupt or not a manifest.
    """
    return Manifest.from_bytes(store.get_bytes(oid), f"manifest {oid}")


def objects_of(store: ObjectStore, kind: Kind, oid: str) -> list[str]:
    """Every object id a tracked file or folder needs: the file itself, or the
    folder's manifest followed by its files' objects (deduplicated).

    Raises:
        NotFound: if a folder's manifest is not in `store`.
    """
    if kind == "file":
        return [oid]
    entries = load_manifest(store, oid).entries
    return [oid, *dict.fromkeys(e.oid for e in entries)]
