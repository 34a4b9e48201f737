"""Where runs go: the tracking store interface, and one shared store and writer per target.

Two stores implement :class:`TrackingStore`: :class:`~mlcycle.tracking._sql.SqlTrackingStore`
(the workspace database, the default) and
:class:`~mlcycle.tracking._http.HttpTrackingStore` (a tracking server at
`MLCYCLE_TRACKING_URI=http://host:port`). Each store has one background
writer per process, shared by all its runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from mlcycle.store import Workspace
from mlcycle.tracking._batch import NewRun, RunBatch
from mlcycle.tracking._records import MetricSeries, RunRecord
from mlcycle.tracking._writer import BackgroundWriter


class TrackingStore(Protocol):
    """What a run handle and the read API need from a place that stores runs."""

    @property
    def uri(self) -> str:
        """Where runs are stored (database URL or server URL)."""

    @property
    def writer(self) -> BackgroundWriter:
        """The background writer that batches this process's writes to the store."""

    def flush(self) -> None:
        """Write everything buffered now."""

    def create_run(self, run: NewRun) -> None:
        """Create `run`."""

    def run_exists(self, run_id: str) -> bool:
        """Whether run `run_id` exists."""

    def write(self, batches: Sequence[RunBatch]) -> list[tuple[str, str]]:
        """Apply `batches` atomically; return `(run id, message)` per refused param change."""

    def put_artifact(self, path: Path) -> tuple[str, int]:
        """Store the file at `path` (streamed); return `(object id, size in bytes)`."""

    def get_run(self, run_id: str) -> RunRecord:
        """Return run `run_id` (or a unique prefix of 6+ characters)."""

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
        """Return one page of the runs matching `filter` (see docs/tracking-search.md)."""

    def metric_series(self, run_id: str, key: str) -> MetricSeries:
        """Return every point of metric `key` of run `run_id`, sorted by step."""


def store_for(ws: Workspace) -> TrackingStore:
    """Return the SQL tracking store of workspace `ws` (one per workspace object)."""
    store = ws.shared.get("tracking_store")
    if store is None:
        from mlcycle.tracking._sql import SqlTrackingStore

        store = ws.shared["tracking_store"] = SqlTrackingStore(ws)
    return store
