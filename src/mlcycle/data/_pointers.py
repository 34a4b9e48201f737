"""Pointer files: the small `PATH.mlc` YAML file committed to git in place of data.

A pointer names the tracked file or folder (relative to the pointer's own
folder), its kind, its BLAKE3 id (the file's digest, or a folder's manifest
digest; see :mod:`mlcycle.data._manifest`), its size in bytes and its file
count, much like a `.dvc` file::

    # mlcycle: commit this file to git; the data itself is in the cache.
    path: hour.csv
    kind: file
    blake3: 5c1d...e9
    size: 1156736
    files: 1
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlcycle.core import DataError, atomic_write_text, is_object_id
from mlcycle.data._manifest import Kind

SUFFIX = ".mlc"
_HEADER = "# mlcycle: commit this file to git; the data itself is in the cache.\n"


@dataclass(frozen=True)
class Pointer:
    """A parsed pointer file.

    `path` is the tracked file or folder's name relative to the pointer's
    folder; `oid` its BLAKE3 id; `size` in bytes; `files` its file count.
    """

    path: str
    kind: Kind
    oid: str
    size: int
    files: int

    def to_yaml(self) -> str:
        """Render the pointer file's text."""
        body = {
            "path": self.path,
            "kind": self.kind,
            "blake3": self.oid,
            "size": self.size,
            "files": self.files,
        }
        return _HEADER + yaml.safe_dump(body, sort_keys=False)


def pointer_path(target: Path) -> Path:
    """The pointer file of `target`: `target` with `.mlc` appended."""
    return target.with_name(target.name + SUFFIX)


def target_path(pointer_file: Path) -> Path:
    """The tracked path a pointer file stands for (its name without `.mlc`)."""
    return pointer_file.with_name(pointer_file.name.removesuffix(SUFFIX))


def _field(raw: dict[str, Any], key: str, kind: type, source: Path) -> Any:
    value = raw.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        got = "nothing" if value is None else repr(value)
        raise DataError(
            f"Pointer file {source}: field '{key}' must be a {kind.__name__}; got {got}. "
            "Restore it from git or run 'mlcycle data add' on the data again"
        )
    return value


def read_pointer(path: Path) -> Pointer:
    """Parse the pointer file at `path`.

    Raises:
        DataError: if it is missing, not YAML, or a field is absent or wrong,
            naming the file and the field.
    """
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except FileNotFoundError:
        raise DataError(f"Pointer file {path} does not exist") from None
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise DataError(f"Pointer file {path} is not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise DataError(f"Pointer file {path} must be a mapping with path, kind, blake3, size")
    oid = _field(raw, "blake3", str, path)
    if not is_object_id(oid):
        raise DataError(f"Pointer file {path}: field 'blake3' must be 64 hex digits; got {oid!r}")
    kind = _field(raw, "kind", str, path)
    if kind not in ("file", "dir"):
        raise DataError(f"Pointer file {path}: field 'kind' must be 'file' or 'dir'; got {kind!r}")
    name = _field(raw, "path", str, path)
    if "/" in name or name in ("", ".", ".."):
        raise DataError(f"Pointer file {path}: field 'path' must be a plain name; got {name!r}")
    size, files = _field(raw, "size", int, path), _field(raw, "files", int, path)
    return Pointer(name, kind, oid, size, files)


def write_pointer(path: Path, pointer: Pointer) -> None:
    """Write the pointer file at `path` atomically (temp file, fsync, rename)."""
    atomic_write_text(path, pointer.to_yaml())


_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
