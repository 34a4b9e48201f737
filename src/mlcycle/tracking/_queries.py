"""Reading runs back: one run, lists of runs, metric histories."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mlcycle.core import RunNotFound
from mlcycle.store import Workspace
from mlcycle.store.schema import (
    ArtifactRow,
    DatasetVersionRow,
    ExperimentRow,
    MetricRow,
    ParamRow,
    RunInputRow,
    RunRow,
    TagRow,
)
from mlcycle.tracking._records import MetricPoint, RunRecord


def _latest_metrics(s: Session, run_id: str) -> dict[str, float]:
    # the value at the highest step (the last logged one on ties), per key
    rank = func.row_number().over(
        partition_by=MetricRow.key, order_by=(MetricRow.step.desc(), MetricRow.id.desc())
    )
    ranked = (
        select(MetricRow.key, MetricRow.value, rank.label("rank"))
        .where(MetricRow.run_id == run_id)
        .subquery()
    )
    rows = s.execute(select(ranked.c.key, ranked.c.value).where(ranked.c.rank == 1))
    return {k: v for k, v in rows}


def _record(s: Session, row: RunRow, experiment: str) -> RunRecord:
    params = dict(s.execute(select(ParamRow.key, ParamRow.value).filter_by(run_id=row.id)).all())
    tags = dict(s.execute(select(TagRow.key, TagRow.value).filter_by(run_id=row.id)).all())
    arts = dict(
        s.execute(select(ArtifactRow.path, ArtifactRow.object_id).filter_by(run_id=row.id)).all()
    )
    datasets = s.execute(
        select(DatasetVersionRow.dataset, DatasetVersionRow.version)
        .join(RunInputRow, RunInputRow.dataset_version_id == DatasetVersionRow.id)
        .filter(RunInputRow.run_id == row.id)
    ).all()
    return RunRecord(
        id=row.id,
        experiment=experiment,
        name=row.name,
        status=row.status,
        start_time=row.start_time,
        end_time=row.end_time,
        parent_id=row.parent_id,
        git_commit=row.git_commit,
        environment=row.environment,
        params=params,
        metrics=_latest_metrics(s, row.id),
        tags=tags,
        artifacts=arts,
        datasets=[f"{d}@v{v}" for d, v in datasets],
    )


def get_run(ws: Workspace, run_id: str) -> RunRecord:
    """Return the run `run_id` (a unique prefix of at least 6 characters works too).

    Raises:
        RunNotFound: if no run (or more than one) matches.
    """
    with ws.db.session() as s:
        rows = s.execute(
            select(RunRow, ExperimentRow.name)
            .join(ExperimentRow, RunRow.experiment_id == ExperimentRow.id)
            .filter(RunRow.id.startswith(run_id) if len(run_id) >= 6 else RunRow.id == run_id)
            .limit(2)
        ).all()
        if len(rows) != 1:
            what = "matches more than one run" if rows else "does not exist"
            raise RunNotFound(f"Run '{run_id}' {what}")
        return _record(s, rows[0][0], rows[0][1])


def list_runs(
    ws: Workspace,
    *,
    experiment: str | None = None,
    parent_id: str | None = None,
    limit: int = 100,
) -> list[RunRecord]:
    """Return runs, newest first, filtered by experiment name and/or parent run id."""
    query = select(RunRow, ExperimentRow.name).join(
        ExperimentRow, RunRow.experiment_id == ExperimentRow.id
    )
    if experiment:
        query = query.filter(ExperimentRow.name == experiment)
    if parent_id:
        query = query.filter(RunRow.parent_id == parent_id)
    query = query.order_by(RunRow.start_time.desc()).limit(limit)
    with ws.db.session() as s:
        return [_record(s, row, exp) for row, exp in s.execute(query).all()]


def metric_history(ws: Workspace, run_id: str, key: str) -> list[MetricPoint]:
    """Return every point of metric `key` of run `run_id`, by step then time."""
    query = (
        select(MetricRow)
        .filter_by(run_id=run_id, key=key)
        .order_by(MetricRow.step, MetricRow.timestamp, MetricRow.id)
    )
    with ws.db.session() as s:
        return [MetricPoint(r.step, r.value, r.timestamp) for r in s.scalars(query)]
