"""`data diff A B`: files added, removed and modified between two states of a tracked path.

A side is `PATH@vN` / `PATH@HASHPREFIX` (a recorded version) or `PATH` (the
workspace as it is now). For a tabular file (CSV, Parquet) the diff also
counts rows and lists columns added and removed.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.core import DataError
from mlcycle.data._manifest import Manifest, ManifestEntry, load_manifest
from mlcycle.data._status import changes
from mlcycle.data._targets import dataset_name, resolve_target
from mlcycle.data._tracked import hash_path
from mlcycle.data._versioning import find_version, split_ref

if TYPE_CHECKING:
    import pandas as pd

    from mlcycle.store import Workspace

_TABULAR = (".csv", ".parquet", ".pq")


@dataclass(frozen=True)
class Side:
    """One side of a diff: the `ref` as given, its kind, id, and workspace path if live."""

    ref: str
    kind: str
    oid: str
    name: str
    live: Path | None = None


@dataclass(frozen=True)
class TableDiff:
    """Rows and columns of two versions of a tabular file (rows compared on shared columns)."""

    rows_a: int
    rows_b: int
    rows_added: int
    rows_removed: int
    columns_added: tuple[str, ...]
    columns_removed: tuple[str, ...]


@dataclass(frozen=True)
class DiffResult:
    """Files that changed from `a` to `b` (POSIX, relative to the folder; a file's name)."""

    a: str
    b: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    table: TableDiff | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        table = None if self.table is None else dict(self.table.__dict__)
        files = {k: list(getattr(self, k)) for k in ("added", "removed", "modified")}
        return {"a": self.a, "b": self.b, **files, "table": table}


def _side(ws: Workspace, ref: str) -> Side:
    path, spec = split_ref(ref)
    target = resolve_target(ws, path)
    if spec is None:
        if not target.exists():
            raise DataError(f"{target} does not exist; give PATH@vN for a recorded version")
        hashed = hash_path(ws, target)
        return Side(ref, hashed.kind, hashed.oid, target.name, target)
    version = find_version(ws, dataset_name(ws, target), spec)
    return Side(ref, version.kind, version.object_id, target.name)


def _manifest(ws: Workspace, side: Side) -> Manifest:
    if side.kind == "file":
        return Manifest.of([ManifestEntry(side.name, side.oid, 0)])
    if side.live is not None:
        return hash_path(ws, side.live).manifest or Manifest.of([])
    return load_manifest(ws.objects, side.oid)


def _frame(ws: Workspace, side: Side, tmp: Path) -> pd.DataFrame:
    import pandas as pd

    path = side.live or ws.objects.path_of(side.oid)
    if path is None or not path.exists():
        path = ws.objects.get_file(side.oid, tmp / f"{side.oid}{Path(side.name).suffix}")
    is_csv = Path(side.name).suffix.lower() == ".csv"
    return pd.read_csv(path) if is_csv else pd.read_parquet(path)


def _row_counts(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    import pandas as pd

    hashed = pd.util.hash_pandas_object(frame[columns], index=False)
    return hashed.value_counts()


def _table(ws: Workspace, a: Side, b: Side) -> TableDiff:
    with tempfile.TemporaryDirectory() as tmp:
        fa, fb = _frame(ws, a, Path(tmp)), _frame(ws, b, Path(tmp))
    shared = [c for c in fa.columns if c in set(fb.columns)]
    ca, cb = _row_counts(fa, shared), _row_counts(fb, shared)
    delta = cb.sub(ca, fill_value=0)
    return TableDiff(
        len(fa),
        len(fb),
        int(delta[delta > 0].sum()),
        int(-delta[delta < 0].sum()),
        tuple(str(c) for c in fb.columns if c not in set(fa.columns)),
        tuple(str(c) for c in fa.columns if c not in set(fb.columns)),
    )


def diff(ws: Workspace, a: str, b: str) -> DiffResult:
    """What changed from `a` to `b` (each `PATH@vN`, `PATH@HASHPREFIX` or `PATH`).

    Raises:
        DataError: if a path is outside the workspace or missing.
        DatasetNotFound: if a version does not exist.
        NotFound: if a folder version's manifest is not in the cache.
    """
    sa, sb = _side(ws, a), _side(ws, b)
    added, removed, modified = changes(_manifest(ws, sa), _manifest(ws, sb))
    table = None
    tabular = sa.kind == sb.kind == "file" and Path(sb.name).suffix.lower() in _TABULAR
    if tabular and sa.oid != sb.oid:
        table = _table(ws, sa, sb)
    return DiffResult(a, b, tuple(added), tuple(removed), tuple(modified), table)
