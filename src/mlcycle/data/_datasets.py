"""Dataset versions: immutable, content-addressed snapshots of files and folders.

Recording the same bytes twice returns the same version ("same bytes,
same id"); new bytes under the same dataset name get the next version.
pandas loads only when a tabular file is read, SQLAlchemy only when the
database is queried (`data add` records through the pending journal, see
:mod:`mlcycle.store._journal`, and imports this module for the records).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.core import DatasetNotFound, InputError, now

if TYPE_CHECKING:
    import pandas as pd

    from mlcycle.store import Workspace
    from mlcycle.store.schema import DatasetVersionRow


@dataclass(frozen=True)
class DatasetVersion:
    """A frozen record of one dataset version.

    `object_id` is the BLAKE3 hex digest of the file's bytes (of the
    manifest for a folder); `size` is in bytes; `rows` is known for tabular
    files only; `schema` maps column name to its inferred description;
    `kind` is `file` or `dir`; `files` counts the files.
    """

    id: int
    dataset: str
    version: int
    object_id: str
    source: str
    size: int
    rows: int | None
    schema: dict[str, Any]
    created_at: float
    kind: str = "file"
    files: int = 1

    @property
    def ref(self) -> str:
        """The reference `name@vN` used on the command line."""
        return f"{self.dataset}@v{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {**self.__dict__, "ref": self.ref}


def _record(row: DatasetVersionRow) -> DatasetVersion:
    return DatasetVersion(
        row.id,
        row.dataset,
        row.version,
        row.object_id,
        row.source,
        row.size,
        row.rows,
        row.schema,
        row.created_at,
        row.kind,
        row.files,
    )


def snapshot(
    ws: Workspace,
    path: str | Path,
    name: str | None = None,
    *,
    frame: pd.DataFrame | None = None,
) -> DatasetVersion:
    """Snapshot a CSV or Parquet file as a dataset version.

    Stores the bytes in the object store (BLAKE3 content address) and
    records row count and inferred schema. Idempotent for the same bytes.

    Args:
        ws: the workspace.
        path: the file to snapshot.
        name: dataset name; defaults to the file name without suffix.
        frame: the file's contents if the caller has read them already
            (saves a second parse; the bytes are hashed from the file either way).

    Raises:
        DataError: if the file is missing, empty or unreadable.
    """
    from mlcycle.data._io import read_table
    from mlcycle.data._schema_infer import infer_schema

    p = Path(path)
    frame = read_table(p) if frame is None else frame
    dataset = name or p.stem
    oid = ws.objects.put_file(p)
    existing = _find(ws, dataset, oid)
    if existing is not None:
        return existing
    schema = {k: v.to_dict() for k, v in infer_schema(frame).items()}
    new = NewVersion(dataset, oid, str(p.resolve()), p.stat().st_size, len(frame), schema)
    return record_version(ws, new)


@dataclass(frozen=True)
class NewVersion:
    """What :func:`record_version` stores: sizes in bytes, `rows` None if unknown."""

    dataset: str
    object_id: str
    source: str
    size: int
    rows: int | None
    schema: dict[str, Any]
    kind: str = "file"
    files: int = 1


def record_version(ws: Workspace, new: NewVersion) -> DatasetVersion:
    """Record `new` as the next version of its dataset, or return the version with
    the same bytes if one exists (same bytes, same version).

    Holds the workspace's version lock, so a number reserved by a concurrent
    `data add` in the pending journal is never given twice.
    """
    from mlcycle.store._journal import locked

    with locked(ws.state_dir):
        return _record_locked(ws, new)


def _record_locked(ws: Workspace, new: NewVersion) -> DatasetVersion:
    from sqlalchemy import func, select
    from sqlalchemy.exc import IntegrityError as SQLIntegrityError

    from mlcycle.store.schema import DatasetVersionRow

    existing = _find(ws, new.dataset, new.object_id)
    if existing is not None:
        return existing
    try:
        with ws.db.session() as s:
            latest = s.scalar(
                select(func.max(DatasetVersionRow.version)).filter_by(dataset=new.dataset)
            )
            row = DatasetVersionRow(**new.__dict__, version=(latest or 0) + 1, created_at=now())
            s.add(row)
            s.flush()
            return _record(row)
    except SQLIntegrityError:  # a concurrent add of the same bytes won the race
        found = _find(ws, new.dataset, new.object_id)
        if found is None:
            raise
        return found


def _find(ws: Workspace, dataset: str, oid: str) -> DatasetVersion | None:
    from sqlalchemy import select

    from mlcycle.store.schema import DatasetVersionRow

    with ws.db.session() as s:
        row = s.scalars(select(DatasetVersionRow).filter_by(dataset=dataset, object_id=oid)).first()
        return _record(row) if row else None


def parse_ref(ref: str) -> tuple[str, int | None]:
    """Split `name@vN` (or `name@N`, or `name` for the latest) into name and version.

    Raises:
        InputError: if the version part is not a positive integer.
    """
    name, _, version = ref.partition("@")
    if not version:
        return name, None
    digits = version.removeprefix("v")
    if not digits.isdigit() or int(digits) < 1:
        raise InputError(f"Dataset reference '{ref}' must look like NAME@vN (e.g. hour@v1)")
    return name, int(digits)


def get_dataset_version(ws: Workspace, ref: str) -> DatasetVersion:
    """Return the dataset version named by `ref` (`name@vN`, or `name` for the latest).

    Raises:
        DatasetNotFound: if no such dataset or version exists.
    """
    from sqlalchemy import select

    from mlcycle.store.schema import DatasetVersionRow

    name, version = parse_ref(ref)
    query = select(DatasetVersionRow).filter_by(dataset=name)
    query = query.filter_by(version=version) if version else query
    with ws.db.session() as s:
        row = s.scalars(query.order_by(DatasetVersionRow.version.desc())).first()
        if row is None:
            raise DatasetNotFound(f"Dataset version '{ref}' does not exist")
        return _record(row)


def list_dataset_versions(ws: Workspace, dataset: str | None = None) -> list[DatasetVersion]:
    """Return dataset versions, newest first, optionally of one dataset."""
    from sqlalchemy import select

    from mlcycle.store.schema import DatasetVersionRow

    query = select(DatasetVersionRow).order_by(DatasetVersionRow.id.desc())
    if dataset:
        query = query.filter_by(dataset=dataset)
    with ws.db.session() as s:
        return [_record(r) for r in s.scalars(query)]


def load_dataset_version(ws: Workspace, ref: str) -> pd.DataFrame:
    """Read the bytes of a dataset version back into a frame (hash-verified).

    Raises:
        DatasetNotFound: if the version does not exist.
        IntegrityError: if its stored bytes are corrupt.
    """
    from mlcycle.data._io import read_table

    version = get_dataset_version(ws, ref)
    suffix = Path(version.source).suffix or ".csv"
    target = ws.state_dir / "datasets" / f"{version.object_id}{suffix}"
    if not target.exists():
        ws.objects.get_file(version.object_id, target)
    return read_table(target)
