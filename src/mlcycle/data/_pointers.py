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

Pointers in exactly that shape, with a plain name YAML reads as a string,
are written and read without PyYAML (its import is a sixth of `data
status`); anything else (a hand-edited file, a name YAML would quote) goes
through PyYAML, with the same result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcycle.core import DataError, atomic_write_text, is_object_id
from mlcycle.data._manifest import Kind

SUFFIX = ".mlc"
_HEADER = "# mlcycle: commit this file to git; the data itself is in the cache.\n"
#: A name YAML emits and reads plain as a string: starts with a letter or `_`,
#: no spaces, quotes, colons or other indicators; YAML 1.1's words checked apart.
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_YAML_WORDS = frozenset(["y", "n", "yes", "no", "true", "false", "on", "off", "null"])
_EXACT = re.compile(
    r"(?:#[^\n]*\n)*path: ([^\n]*)\nkind: (file|dir)\nblake3: ([0-9a-f]{64})\n"
    r"size: (0|[1-9][0-9]*)\nfiles: (0|[1-9][0-9]*)\n"
)


#: Hex digests YAML would read as a number (all digits, or `0b` and binary digits).
_NUMERIC_OID = re.compile(r"[0-9]+|0b[01]+")


def _plain(name: str, oid: str) -> bool:
    """Whether YAML writes `name` and `oid` unquoted and reads both back as the same strings."""
    return (
        _PLAIN_NAME.fullmatch(name) is not None
        and name.lower() not in _YAML_WORDS
        and _NUMERIC_OID.fullmatch(oid) is None
    )


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
        """Render the pointer file's text (what `yaml.safe_dump` writes, without PyYAML
        for plain names)."""
        if _plain(self.path, self.oid) and self.kind in ("file", "dir"):
            return (
                f"{_HEADER}path: {self.path}\nkind: {self.kind}\nblake3: {self.oid}\n"
                f"size: {self.size}\nfiles: {self.files}\n"
            )
        import yaml

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
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"Pointer file {path} does not exist") from None
    except UnicodeDecodeError as err:
        raise DataError(f"Pointer file {path} is not valid YAML: {err}") from None
    exact = _EXACT.fullmatch(text)
    if exact is not None and _plain(exact[1], exact[3]):
        name, kind, oid, size, files = exact.groups()
        return Pointer(name, kind, oid, int(size), int(files))  # type: ignore[arg-type]
    return _from_yaml(path, text)


def _from_yaml(path: Path, text: str) -> Pointer:
    import yaml

    try:
        raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as err:
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
