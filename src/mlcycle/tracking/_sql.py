"""The tracking store over the workspace's metadata database (SQLite or PostgreSQL).

Writes go through SQLAlchemy Core, one transaction per flush: each metric
key of a batch becomes one packed `metric_chunks` row, whatever its number
of points, and `latest_metrics` is upserted (only forwards in step) so
search never scans histories. Upserts are atomic statements
(`INSERT ... ON CONFLICT`), so several processes may log to one run.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Table, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from mlcycle.core import RunNotFound, new_id, now
from mlcycle.store import Workspace
from mlcycle.store._chunks import pack_points
from mlcycle.store.schema import (
    ArtifactRow,
    ExperimentRow,
    IngestedBatchRow,
    LatestMetricRow,
    MetricChunkRow,
    ParamRow,
    RunRow,
    TagRow,
)
from mlcycle.tracking import _queries
from mlcycle.tracking._batch import MetricColumns, NewRun, RunBatch
from mlcycle.tracking._records import MetricSeries, RunRecord
from mlcycle.tracking._writer import BackgroundWriter

_PARAMS: Table = ParamRow.__table__  # type: ignore[assignment]
_TAGS: Table = TagRow.__table__  # type: ignore[assignment]
_CHUNKS: Table = MetricChunkRow.__table__  # type: ignore[assignment]
_LATEST: Table = LatestMetricRow.__table__  # type: ignore[assignment]
_ARTIFACTS: Table = ArtifactRow.__table__  # type: ignore[assignment]
_BATCHES: Table = IngestedBatchRow.__table__  # type: ignore[assignment]
_RUNS: Table = RunRow.__table__  # type: ignore[assignment]
_EXPERIMENTS: Table = ExperimentRow.__table__  # type: ignore[assignment]


def _dialect_insert(conn: Connection, table: Table) -> Any:
    name = conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    return None


def _insert_ignore(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> int:
    """Insert `rows`, skipping those whose primary key exists; return how many went in."""
    stmt = _dialect_insert(conn, table)
    if stmt is not None:  # RETURNING counts reliably where rowcount does not (psycopg: -1)
        key = next(iter(table.primary_key.columns))
        return len(conn.execute(stmt.on_conflict_do_nothing().returning(key), rows).all())
    added = 0
    for row in rows:  # other databases: one savepoint a row
        try:
            with conn.begin_nested():
                conn.execute(insert(table), row)
            added += 1
        except IntegrityError:
            pass
    return added


def _upsert(
    conn: Connection, table: Table, rows: list[dict[str, Any]], keys: Sequence[str], forward: bool
) -> None:
    """Insert `rows` or overwrite the rows with the same `keys`.

    With `forward`, an existing row is only overwritten by one whose `step`
    is at least its own (the latest point of a metric wins).
    """
    stmt = _dialect_insert(conn, table)
    fields = [c for c in rows[0] if c not in keys]
    if stmt is not None:
        where = table.c.step <= stmt.excluded.step if forward else None
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: stmt.excluded[c] for c in fields}, where=where
        )
        conn.execute(stmt, rows)
        return
    for row in rows:
        match = and_(*(table.c[k] == row[k] for k in keys))
        cond = and_(match, table.c.step <= row["step"]) if forward else match
        if conn.execute(update(table).where(cond).values(**{c: row[c] for c in fields})).rowcount:
            continue
        _insert_ignore(conn, table, [row])


def _latest(run_id: str, key: str, col: MetricColumns) -> dict[str, Any]:
    steps = np.asarray(col.steps)
    last = len(steps) - 1 - int(np.argmax(steps[::-1]))  # the last point at the highest step
    value = col.values[last]
    return {
        "run_id": run_id,
        "key": key,
        "value": None if value != value else value,  # NULL stores NaN
        "step": int(steps[last]),
        "timestamp": col.timestamps[last],
    }


class SqlTrackingStore:
    """Runs, params, metrics, tags and artifacts in a workspace's database and object store.

    Thread-safe; several processes may write to one database (and one run)
    at once.

    Args:
        ws: the workspace whose database and object store hold the runs.
    """

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._experiments: dict[str, str] = {}

    @cached_property
    def writer(self) -> BackgroundWriter:
        """This process's background writer for the workspace (`tracking.flush_interval`)."""
        return BackgroundWriter(self.write, self.ws.config.tracking.flush_interval)

    def flush(self) -> None:
        """Write everything buffered now (nothing to do if nothing was logged)."""
        if "writer" in self.__dict__:
            self.writer.flush()

    @property
    def uri(self) -> str:
        """Where runs are stored: the database URL."""
        return self.ws.db.url

    def experiment_id(self, name: str) -> str:
        """Return the id of experiment `name`, creating it if needed (safe under races)."""
        if name in self._experiments:
            return self._experiments[name]
        query = select(_EXPERIMENTS.c.id).where(_EXPERIMENTS.c.name == name)
        with self.ws.db.engine.begin() as conn:
            found = conn.execute(query).scalar()
            if found is None:
                _insert_ignore(
                    conn, _EXPERIMENTS, [{"id": new_id(), "name": name, "created_at": now()}]
                )
                found = conn.execute(query).scalar_one()
        self._experiments[name] = str(found)
        return str(found)

    def _run_row(self, run: NewRun) -> dict[str, Any]:
        return {
            "id": run.id,
            "experiment_id": self.experiment_id(run.experiment),
            "parent_id": run.parent_id,
            "name": run.name,
            "status": run.status,
            "start_time": run.start_time,
            "end_time": run.end_time,
            "git_commit": run.git_commit,
            "environment": run.environment,
        }

    def create_run(self, run: NewRun) -> None:
        """Insert `run` (status RUNNING unless it says otherwise)."""
        with self.ws.db.engine.begin() as conn:
            conn.execute(insert(_RUNS), self._run_row(run))

    def import_run(self, run: NewRun, batch: RunBatch) -> bool:
        """Insert a finished `run` and apply its `batch` in one transaction (an import).

        Returns False, writing nothing, if a run with this id exists already.
        """
        with self.ws.db.engine.begin() as conn:
            if not _insert_ignore(conn, _RUNS, [self._run_row(run)]):
                return False
            self._apply(conn, batch)
        return True

    def run_exists(self, run_id: str) -> bool:
        """Whether a run with exactly this id exists."""
        with self.ws.db.engine.connect() as conn:
            return conn.execute(select(_RUNS.c.id).where(_RUNS.c.id == run_id)).first() is not None

    def write(self, batches: Sequence[RunBatch]) -> list[tuple[str, str]]:
        """Apply `batches` in one transaction; return `(run id, message)` per refused param change.

        A batch whose `id` was applied before is skipped (a retried upload).
        A param already stored with another value keeps its first value and
        is reported; everything else in the batch is written.

        Raises:
            RunNotFound: if a batch names a run that does not exist (nothing is written).
        """
        conflicts: list[tuple[str, str]] = []
        with self.ws.db.engine.begin() as conn:
            for batch in batches:
                if not batch.empty():
                    conflicts += self._apply(conn, batch)
        return conflicts

    def _apply(self, conn: Connection, b: RunBatch) -> list[tuple[str, str]]:
        if conn.execute(select(_RUNS.c.id).where(_RUNS.c.id == b.run_id)).first() is None:
            raise RunNotFound(f"Run '{b.run_id}' does not exist")
        if b.id is not None:
            row: dict[str, Any] = {"id": b.id, "run_id": b.run_id, "received_at": now()}
            if not _insert_ignore(conn, _BATCHES, [row]):
                return []  # applied before: a retry of the same upload
        conflicts = self._params(conn, b.run_id, b.params) if b.params else []
        if b.tags:
            rows = [{"run_id": b.run_id, "key": k, "value": v} for k, v in b.tags.items()]
            _upsert(conn, _TAGS, rows, ("run_id", "key"), forward=False)
        if b.metrics:
            chunks = []
            for key, col in b.metrics.items():
                n, data = pack_points(col.steps, col.values, col.timestamps)
                chunks.append({"run_id": b.run_id, "key": key, "n": n, "data": data})
            conn.execute(insert(_CHUNKS), chunks)
            latest = [_latest(b.run_id, k, c) for k, c in b.metrics.items() if len(c)]
            _upsert(conn, _LATEST, latest, ("run_id", "key"), forward=True)
        if b.artifacts:
            arts: list[dict[str, Any]] = [
                {"run_id": b.run_id, "path": p, "object_id": oid, "size": size}
                for p, (oid, size) in b.artifacts.items()
            ]
            _upsert(conn, _ARTIFACTS, arts, ("run_id", "path"), forward=False)
        if b.status is not None:
            conn.execute(
                update(_RUNS)
                .where(_RUNS.c.id == b.run_id)
                .values(status=b.status, end_time=b.end_time)
            )
        return conflicts

    @staticmethod
    def _params(conn: Connection, run_id: str, params: dict[str, str]) -> list[tuple[str, str]]:
        rows = [{"run_id": run_id, "key": k, "value": v} for k, v in params.items()]
        if _insert_ignore(conn, _PARAMS, rows) == len(rows):
            return []
        stored = conn.execute(
            select(_PARAMS.c.key, _PARAMS.c.value).where(
                _PARAMS.c.run_id == run_id, _PARAMS.c.key.in_(list(params))
            )
        )
        return [
            (
                run_id,
                f"Param '{k}' of run {run_id} was logged as {v!r}; cannot change it to "
                f"{params[k]!r} (params are immutable)",
            )
            for k, v in stored
            if v != params[k]
        ]

    def put_artifact(self, path: Path) -> tuple[str, int]:
        """Store the file at `path` in the object store (streamed); return `(object id, bytes)`."""
        return self.ws.objects.put_file(path), path.stat().st_size

    def get_run(self, run_id: str) -> RunRecord:
        """Return run `run_id` (or a unique prefix of 6+ characters).

        Raises:
            RunNotFound: if no run (or several) match.
        """
        return _queries.get_run(self.ws, run_id)

    def search_runs(
        self,
        filter: str = "",
        *,
        experiment: str | Sequence[str] | None = None,
        parent_id: str | None = None,
        order_by: Sequence[str] = (),
        limit: int = 100,
        offset: int = 0,
    ) -> list[RunRecord]:
        """Return one page of the runs matching `filter` (see `tracking.search_runs`)."""
        return _queries.search_runs(
            self.ws,
            filter,
            experiment=experiment,
            parent_id=parent_id,
            order_by=order_by,
            limit=limit,
            offset=offset,
        )

    def metric_series(self, run_id: str, key: str) -> MetricSeries:
        """Return every point of metric `key` of run `run_id`, sorted by step."""
        return _queries.metric_series(self.ws, run_id, key)
