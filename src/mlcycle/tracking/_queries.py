"""Reading runs back: one run, pages of runs (searched and ordered), metric histories.

Records of a page of runs load in five queries whatever the page size
(runs, params, tags, latest metrics, artifacts + inputs), so a page of 50
runs costs the same as one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Executable, Row, Select, select
from sqlalchemy.orm import Session

from mlcycle.core import RunNotFound
from mlcycle.store import Workspace
from mlcycle.store._chunks import unpack_points
from mlcycle.store.schema import (
    ArtifactRow,
    DatasetVersionRow,
    ExperimentRow,
    LatestMetricRow,
    MetricChunkRow,
    ParamRow,
    RunInputRow,
    RunRow,
    TagRow,
)
from mlcycle.tracking._records import MetricPoint, MetricSeries, RunRecord

_NAN = float("nan")


def _by_run(s: Session, query: Executable) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for run_id, key, value in s.execute(query):
        out[run_id][key] = value
    return out


def _records(s: Session, rows: Sequence[Row[RunRow, str]]) -> list[RunRecord]:
    """Build the records of `rows` ((run, experiment name) pairs) in a fixed number of queries."""
    ids = [r.id for r, _ in rows]
    if not ids:
        return []
    params = _by_run(
        s, select(ParamRow.run_id, ParamRow.key, ParamRow.value).where(ParamRow.run_id.in_(ids))
    )
    tags = _by_run(s, select(TagRow.run_id, TagRow.key, TagRow.value).where(TagRow.run_id.in_(ids)))
    metrics = _by_run(
        s,
        select(LatestMetricRow.run_id, LatestMetricRow.key, LatestMetricRow.value).where(
            LatestMetricRow.run_id.in_(ids)
        ),
    )
    arts = _by_run(
        s,
        select(ArtifactRow.run_id, ArtifactRow.path, ArtifactRow.object_id).where(
            ArtifactRow.run_id.in_(ids)
        ),
    )
    datasets: dict[str, list[str]] = defaultdict(list)
    for run_id, name, version in s.execute(
        select(RunInputRow.run_id, DatasetVersionRow.dataset, DatasetVersionRow.version)
        .join(DatasetVersionRow, RunInputRow.dataset_version_id == DatasetVersionRow.id)
        .where(RunInputRow.run_id.in_(ids))
    ):
        datasets[run_id].append(f"{name}@v{version}")
    return [
        RunRecord(
            id=row.id,
            experiment=experiment,
            name=row.name,
            status=row.status,
            start_time=row.start_time,
            end_time=row.end_time,
            parent_id=row.parent_id,
            git_commit=row.git_commit,
            environment=row.environment,
            params=params.get(row.id, {}),
            metrics={k: _NAN if v is None else v for k, v in metrics.get(row.id, {}).items()},
            tags=tags.get(row.id, {}),
            artifacts=arts.get(row.id, {}),
            datasets=sorted(datasets.get(row.id, [])),
        )
        for row, experiment in rows
    ]


def _runs() -> Select[RunRow, str]:
    return select(RunRow, ExperimentRow.name).join(
        ExperimentRow, RunRow.experiment_id == ExperimentRow.id
    )


def get_run(ws: Workspace, run_id: str) -> RunRecord:
    """Return the run `run_id` (a unique prefix of at least 6 characters works too).

    Raises:
        RunNotFound: if no run (or more than one) matches.
    """
    match = (
        RunRow.id.startswith(run_id, autoescape=True) if len(run_id) >= 6 else RunRow.id == run_id
    )
    with ws.db.session() as s:
        rows = s.execute(_runs().where(match).limit(2)).all()
        if len(rows) != 1:
            what = "matches more than one run" if rows else "does not exist"
            raise RunNotFound(f"Run '{run_id}' {what}")
        return _records(s, rows)[0]


def search_runs(
    ws: Workspace,
    filter: str = "",
    *,
    experiment: str | Sequence[str] | None = None,
    parent_id: str | None = None,
    order_by: Sequence[str] = (),
    limit: int = 100,
    offset: int = 0,
) -> list[RunRecord]:
    """Return the runs matching `filter`, ordered, one page of at most `limit`.

    `filter` is the search language of docs/tracking-search.md, e.g.
    `"metrics.mae < 40 and params.model = 'hgb'"`; empty matches all.
    `order_by` items are `FIELD [ASC|DESC]` (default: newest first);
    `experiment` one name or several.

    Raises:
        InputError: if the filter or an order item is malformed (the message
            points at the position).
    """
    from mlcycle.tracking._search import filter_clause, order_clauses

    query = _runs()
    if filter.strip():
        query = query.where(filter_clause(filter))
    if experiment:
        names = [experiment] if isinstance(experiment, str) else list(experiment)
        query = query.where(ExperimentRow.name.in_(names))
    if parent_id:
        query = query.where(RunRow.parent_id == parent_id)
    query = query.order_by(*order_clauses(order_by), RunRow.start_time.desc(), RunRow.id)
    with ws.db.session() as s:
        rows = s.execute(query.limit(limit).offset(offset)).all()
        return _records(s, rows)


def list_runs(
    ws: Workspace,
    *,
    experiment: str | None = None,
    parent_id: str | None = None,
    limit: int = 100,
) -> list[RunRecord]:
    """Return runs, newest first, filtered by experiment name and/or parent run id."""
    with ws.db.session() as s:
        query = _runs()
        if experiment:
            query = query.where(ExperimentRow.name == experiment)
        if parent_id:
            query = query.where(RunRow.parent_id == parent_id)
        rows = s.execute(query.order_by(RunRow.start_time.desc()).limit(limit)).all()
        return _records(s, rows)


def metric_series(ws: Workspace, run_id: str, key: str) -> MetricSeries:
    """Return every point of metric `key` of run `run_id` as arrays, sorted by step.

    Points at the same step keep the order they were logged in. An unknown
    run or key gives an empty series.
    """
    query = (
        select(MetricChunkRow.n, MetricChunkRow.data)
        .where(MetricChunkRow.run_id == run_id, MetricChunkRow.key == key)
        .order_by(MetricChunkRow.id)
    )
    with ws.db.session() as s:
        parts = [unpack_points(n, bytes(data)) for n, data in s.execute(query)]
    if not parts:
        return MetricSeries.empty(key)
    steps, values, stamps = (np.concatenate(cols) for cols in zip(*parts, strict=True))
    order = np.argsort(steps, kind="stable")
    return MetricSeries(key, steps[order], values[order], stamps[order])


def metric_history(ws: Workspace, run_id: str, key: str) -> list[MetricPoint]:
    """Return every point of metric `key` of run `run_id`, by step (see :func:`metric_series`)."""
    return metric_series(ws, run_id, key).points()


def metric_keys(ws: Workspace, run_id: str) -> list[str]:
    """Return the names of the metrics run `run_id` logged, sorted."""
    query = select(LatestMetricRow.key).where(LatestMetricRow.run_id == run_id)
    with ws.db.session() as s:
        return sorted(s.scalars(query))


def experiment_names(ws: Workspace) -> list[str]:
    """Return the names of all experiments, sorted."""
    with ws.db.session() as s:
        return sorted(s.scalars(select(ExperimentRow.name)))
