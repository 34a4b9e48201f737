"""Values passed between Python steps, stored by type in the object store (never pickle).

=================================  ===========  ==================================
type                               codec        stored as
=================================  ===========  ==================================
pandas DataFrame                   `parquet`    Apache Parquet (pyarrow)
NumPy ndarray (no object dtype)    `npy`        `.npy`, `allow_pickle=False`
dict/list/str/int/float/bool/None  `json`       canonical JSON
scikit-learn estimator             `skops`      skops; loads trust sklearn/NumPy/SciPy only
`pathlib.Path` (file or folder)    `path`       the file or folder, restored on load
dict of str to any of the above    `dict`       each value by its codec, plus a JSON
                                                 object of their records
=================================  ===========  ==================================

A dict is JSON when all its values are; otherwise (say, a fitted model and
its metrics) each value is stored by its own codec, so a step can hand
several things to the next.

A value's object id is the BLAKE3 hash of its encoding, so equal values
have equal ids and a downstream step's cache key sees content, not identity.
"""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.core import IntegrityError, PipelineError
from mlcycle.pipeline._cache_key import canonical_json

if TYPE_CHECKING:
    from mlcycle.data import PathHash
    from mlcycle.store import Workspace


@dataclass(frozen=True)
class Codec:
    """How one type of value becomes bytes and back."""

    name: str
    accepts: Callable[[Any], bool]
    encode: Callable[[Any], bytes]
    decode: Callable[[bytes], Any]


def _instance_of(module: str, attr: str, value: Any) -> bool:
    # Only a value whose library is already imported can be of its type: no import here.
    mod = sys.modules.get(module)
    return mod is not None and isinstance(value, getattr(mod, attr))


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, str | bool | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def _frame_bytes(frame: Any) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf)
    return buf.getvalue()


def _frame(data: bytes) -> Any:
    import pandas as pd

    return pd.read_parquet(io.BytesIO(data))


def _npy_bytes(array: Any) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _npy(data: bytes) -> Any:
    import numpy as np

    return np.load(io.BytesIO(data), allow_pickle=False)


def _json(data: bytes) -> Any:
    import json

    return json.loads(data)


def _skops_bytes(model: Any) -> bytes:
    import skops.io

    data: bytes = skops.io.dumps(model)
    return data


def _skops(data: bytes) -> Any:
    import skops.io

    from mlcycle.models._package import TRUSTED_PREFIXES, TRUSTED_TYPES

    untrusted = skops.io.get_untrusted_types(data=data)
    unsafe = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES) and t not in TRUSTED_TYPES]
    if unsafe:
        raise IntegrityError(f"a stored step value holds the untrusted type {unsafe[0]!r}")
    return skops.io.loads(data, trusted=untrusted)


CODECS: tuple[Codec, ...] = (
    Codec("parquet", lambda v: _instance_of("pandas", "DataFrame", v), _frame_bytes, _frame),
    Codec("npy", lambda v: _instance_of("numpy", "ndarray", v), _npy_bytes, _npy),
    Codec(
        "skops", lambda v: _instance_of("sklearn.base", "BaseEstimator", v), _skops_bytes, _skops
    ),
    Codec("json", _is_json, canonical_json, _json),
)
SUPPORTED = "pandas DataFrame, NumPy ndarray, JSON-able value, scikit-learn estimator, pathlib.Path"
_BY_NAME = {c.name: c for c in CODECS}


def store_value(ws: Workspace, step: str, value: Any) -> tuple[dict[str, Any], list[str]]:
    """Store the return value of step `step`.

    Returns:
        The output record (`kind`, `oid`, `codec`, `size` in bytes, and
        `path` for a Path) and
        every object id needed to load it again.

    Raises:
        PipelineError: if the value's type is not supported (the message lists those that are).
    """
    if isinstance(value, Path):
        return _store_path(ws, value)
    if isinstance(value, dict) and not _is_json(value) and all(isinstance(k, str) for k in value):
        return _store_dict(ws, step, value)
    codec = next((c for c in CODECS if c.accepts(value)), None)
    if codec is None:
        raise PipelineError(
            f"step '{step}' returned a {type(value).__module__}.{type(value).__qualname__}, "
            f"which mlcycle cannot store; return one of: {SUPPORTED}"
        )
    try:
        data = codec.encode(value)
    except (TypeError, ValueError) as err:
        raise PipelineError(f"step '{step}': cannot store its {codec.name} value: {err}") from None
    oid = ws.objects.put_bytes(data)
    return {"kind": "value", "oid": oid, "codec": codec.name, "size": len(data)}, [oid]


def load_value(ws: Workspace, record: dict[str, Any]) -> Any:
    """Load a value stored by :func:`store_value` (a Path is restored in place first).

    Raises:
        NotFound: if its objects are not in the store.
        IntegrityError: if stored bytes are corrupt or a model holds untrusted types.
    """
    if record["codec"] == "path":
        return restore_if_changed(ws, record["kind"], record["oid"], ws.root / record["path"])
    if record["codec"] == "dict":
        items = _json(ws.objects.get_bytes(record["oid"]))
        return {key: load_value(ws, item) for key, item in items.items()}
    return _BY_NAME[record["codec"]].decode(ws.objects.get_bytes(record["oid"]))


def _store_dict(
    ws: Workspace, step: str, value: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    records: dict[str, Any] = {}
    objects: list[str] = []
    for key, item in value.items():
        records[key], needed = store_value(ws, f"{step}[{key!r}]", item)
        objects += needed
    data = canonical_json(records)
    oid = ws.objects.put_bytes(data)
    size = len(data) + sum(r["size"] for r in records.values())
    return {"kind": "value", "oid": oid, "codec": "dict", "size": size}, [oid, *objects]


def path_objects(hashed: PathHash) -> list[str]:
    """Every object id a stored file or folder needs: the file, or manifest + files."""
    manifest = hashed.manifest
    if manifest is None:
        return [hashed.oid]
    return [hashed.oid, *dict.fromkeys(e.oid for e in manifest.entries)]


def _store_path(ws: Workspace, path: Path) -> tuple[dict[str, Any], list[str]]:
    from mlcycle.data import store_path

    full = (ws.root / path).resolve()
    hashed = store_path(ws, full)
    rel = full.relative_to(ws.root) if full.is_relative_to(ws.root) else full
    record = {
        "kind": hashed.kind,
        "oid": hashed.oid,
        "codec": "path",
        "path": str(rel),
        "size": hashed.size,
    }
    return record, path_objects(hashed)


def restore_if_changed(ws: Workspace, kind: str, oid: str, path: Path) -> Path:
    """Make `path` hold the cached file or folder `oid` unless it already does.

    Raises:
        NotFound: if the object is not cached.
    """
    from mlcycle.core import DataError
    from mlcycle.data import hash_path, restore_path

    try:
        current = hash_path(ws, path).oid
    except DataError:  # missing
        current = None
    if current != oid:
        restore_path(ws, kind, oid, path)
    return path
