"""Pending dataset versions: `data add` records versions here, not in the database.

Opening the metadata database costs a CLI call about 0.4 s (SQLAlchemy,
Alembic), ten times the work of recording a version. So `data add` on a
workspace with the default SQLite database reserves each new version under
a lock and writes it to a small journal in `.mlcycle/pending/`; the first
session of `Workspace.db` (in any process: `data list`, lineage, gc, the
server) applies the journal in one transaction before its own work.

Rules that keep the journal and the database one history:

- A record is one JSON file, written to a temp name and renamed into
  place, so a reader sees all of it or nothing, even if the writer is
  killed. Like the object store it is not fsynced: a record torn by a power
  loss does not parse and is set aside as `*.bad`, never half-applied.
- Ids and version numbers are reserved under the workspace's version lock
  (`.mlcycle/versions.lock`, `flock`) from the database (read with the
  stdlib `sqlite3`: no SQLAlchemy) and the pending records together; every
  writer of `dataset_versions` takes the same lock and applies the journal
  first, so a reserved id or version is never given twice.
- Applying is idempotent: a record whose (dataset, object id) is already
  in the database is skipped, and files are deleted only after the
  transaction commits. A crash between the two applies nothing twice.

Only the standard library loads here until records are applied.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.core import new_id

if TYPE_CHECKING:
    from mlcycle.store._db import Database

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per workspace at a time
    fcntl = None  # type: ignore[assignment]

PENDING_DIR = "pending"
LOCK_FILE = "versions.lock"
DB_FILE = "mlcycle.db"
#: Fields of a version record, in the order of the `dataset_versions` columns.
FIELDS = (
    "id", "dataset", "version", "object_id", "source", "size", "rows", "schema", "created_at",
    "kind", "files",
)  # fmt: skip
_SELECT = f"SELECT {', '.join(FIELDS)} FROM dataset_versions"
_STALE_TEMP_SECONDS = 3600.0
_log = logging.getLogger(__name__)


class JournalUnavailable(Exception):
    """The database could not be read without opening it properly (e.g. an old schema)."""


class _Lock:
    """A per-process, re-entrant hold on one workspace's version lock file."""

    def __init__(self) -> None:
        self.rlock = threading.RLock()
        self.depth = 0
        self.fd = -1


_LOCKS: dict[str, _Lock] = {}
_LOCKS_GUARD = threading.Lock()


@contextmanager
def locked(state_dir: Path) -> Iterator[None]:
    """Hold the workspace's version lock (re-entrant; other threads and processes wait)."""
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(str(state_dir), _Lock())
    with lock.rlock:
        if lock.depth == 0:
            fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd closes, or the process dies
            lock.fd = fd
        lock.depth += 1
        try:
            yield
        finally:
            lock.depth -= 1
            if lock.depth == 0:
                os.close(lock.fd)


def _pending_dir(state_dir: Path) -> Path:
    return state_dir / PENDING_DIR


def pending_files(state_dir: Path) -> list[Path]:
    """The journal's record files, oldest reservation first."""
    try:
        with os.scandir(_pending_dir(state_dir)) as it:
            names = [e.name for e in it if e.name.endswith(".json") and e.name[0] != "."]
    except FileNotFoundError:
        return []
    return [_pending_dir(state_dir) / n for n in sorted(names)]


def has_pending(state_dir: Path) -> bool:
    """Whether the journal holds records (a directory listing: cheap enough for every session)."""
    try:
        with os.scandir(_pending_dir(state_dir)) as it:
            return any(e.name.endswith(".json") and e.name[0] != "." for e in it)
    except FileNotFoundError:
        return False


def _read(path: Path) -> list[dict[str, Any]] | None:
    """The versions of one record file; None (and the file set aside) if it is damaged."""
    try:
        data = json.loads(path.read_bytes())
        versions = data["versions"]
        if not all(isinstance(v, dict) and set(v) == set(FIELDS) for v in versions):
            raise ValueError("unexpected fields")
    except FileNotFoundError:
        return []  # applied and deleted meanwhile (a reader that does not hold the lock)
    except (ValueError, KeyError, TypeError) as err:
        _log.warning("pending dataset version record %s is damaged (%s); set aside", path, err)
        os.replace(path, path.with_name(path.name + ".bad"))
        return None
    return list(versions)


def pending_versions(state_dir: Path) -> list[dict[str, Any]]:
    """Every version waiting in the journal (hold :func:`locked` for a stable answer)."""
    found: list[dict[str, Any]] = []
    for path in pending_files(state_dir):
        found += _read(path) or []
    return found


def _connect(state_dir: Path) -> sqlite3.Connection | None:
    path = state_dir / DB_FILE
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=30)
    except sqlite3.OperationalError:
        if path.exists():
            raise JournalUnavailable(f"{path} cannot be opened") from None
        return None  # no database yet: the journal is the whole history
    return conn


def _row(values: tuple[Any, ...]) -> dict[str, Any]:
    row = dict(zip(FIELDS, values, strict=True))
    row["schema"] = json.loads(row["schema"]) if isinstance(row["schema"], str) else row["schema"]
    return row


class _Known:
    """The recorded versions a reservation must not collide with: database plus journal."""

    def __init__(self, state_dir: Path) -> None:
        self.pending = pending_versions(state_dir)
        self.conn = _connect(state_dir)

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.conn is None:
            return []
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as err:  # no table, an old schema: open it properly
            raise JournalUnavailable(str(err)) from None

    def find(self, dataset: str, oid: str) -> dict[str, Any] | None:
        for v in self.pending:
            if v["dataset"] == dataset and v["object_id"] == oid:
                return v
        rows = self._query(f"{_SELECT} WHERE dataset = ? AND object_id = ?", (dataset, oid))
        return _row(rows[0]) if rows else None

    def next_version(self, dataset: str) -> int:
        rows = self._query(
            "SELECT max(version) FROM dataset_versions WHERE dataset = ?", (dataset,)
        )
        versions = [v["version"] for v in self.pending if v["dataset"] == dataset]
        return int(max([(rows[0][0] or 0) if rows else 0, *versions])) + 1

    def next_id(self) -> int:
        rows = self._query("SELECT max(id) FROM dataset_versions")
        return int(max([(rows[0][0] or 0) if rows else 0, *(v["id"] for v in self.pending)])) + 1

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def reserve(state_dir: Path, wanted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Record new versions in the journal; return each as recorded.

    Args:
        state_dir: the workspace's `.mlcycle/` folder (its database must be
            the default SQLite file there).
        wanted: one dict per version with every field of :data:`FIELDS`
            but `id`, `version` and `created_at`.

    Returns:
        Per wanted version, the version already recorded with the same
        dataset and object id (in the database or the journal), else the
        new one with its reserved id, version and creation time.

    Raises:
        JournalUnavailable: if the database exists but cannot be read
            (an old schema: open `Workspace.db` to migrate it, then retry).
    """
    with locked(state_dir):
        known = _Known(state_dir)
        try:
            result = [_reserve_one(known, w) for w in wanted]
        finally:
            known.close()
        new = [v for v in result if v.get("_new")]
        for v in new:
            del v["_new"]
        if new:
            name = f"{new[0]['id']:012d}-{new_id()}.json"
            record = json.dumps({"versions": new}, separators=(",", ":")).encode()
            _write_new(_pending_dir(state_dir), name, record)
    return result


def _write_new(folder: Path, name: str, data: bytes) -> None:
    """Write `folder/name` whole or not at all: a temp file (`.` name, ignored) renamed."""
    folder.mkdir(exist_ok=True)
    tmp = folder / f".{name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, folder / name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _reserve_one(known: _Known, wanted: dict[str, Any]) -> dict[str, Any]:
    found = known.find(wanted["dataset"], wanted["object_id"])
    if found is not None:
        return dict(found)
    version = {
        **wanted,
        "id": known.next_id(),
        "version": known.next_version(wanted["dataset"]),
        "created_at": time.time(),
    }
    known.pending.append({k: version[k] for k in FIELDS})
    return {**{k: version[k] for k in FIELDS}, "_new": True}


def apply_pending(state_dir: Path, db: Database) -> int:
    """Insert the journal's versions into `db` in one transaction; return how many were new.

    Idempotent: versions already in the database (same dataset and object
    id) are skipped. A version whose reserved id or number was taken by a
    writer outside the lock (an older mlcycle) gets the next free ones.
    """
    if not has_pending(state_dir):
        return 0
    with locked(state_dir):
        files = pending_files(state_dir)
        versions = [v for f in files for v in (_read(f) or [])]
        added = _insert(db, versions) if versions else 0
        for f in files:
            f.unlink(missing_ok=True)
        _remove_stale_temps(state_dir)
    return added


def _insert(db: Database, versions: list[dict[str, Any]]) -> int:
    from sqlalchemy import func, select

    from mlcycle.store.schema import DatasetVersionRow as Row

    added = 0
    with db.transaction() as s:
        for v in sorted(versions, key=lambda v: v["id"]):
            if s.scalar(select(Row.id).filter_by(dataset=v["dataset"], object_id=v["object_id"])):
                continue
            taken = s.get(Row, v["id"]) is not None or s.scalar(
                select(Row.id).filter_by(dataset=v["dataset"], version=v["version"])
            )
            if taken:
                latest = s.scalar(select(func.max(Row.version)).filter_by(dataset=v["dataset"]))
                v = {**v, "id": None, "version": (latest or 0) + 1}
                _log.warning("dataset version %s renumbered to v%s", v["dataset"], v["version"])
            s.add(Row(**v))
            s.flush()
            added += 1
    return added


def _remove_stale_temps(state_dir: Path) -> None:
    """Temp files of writers killed mid-record (they never became records)."""
    cutoff = time.time() - _STALE_TEMP_SECONDS
    try:
        with os.scandir(_pending_dir(state_dir)) as it:
            stale = [e.path for e in it if e.name[0] == "." and e.stat().st_mtime < cutoff]
    except FileNotFoundError:
        return
    for path in stale:
        Path(path).unlink(missing_ok=True)
