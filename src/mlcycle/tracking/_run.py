"""Runs: the live handle that writes (:class:`Run`) and how one starts.

Every write is its own short transaction, so a crashed run keeps what it
logged; a run that raises ends with status `FAILED`.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import select

from mlcycle.core import InputError, new_id, now
from mlcycle.data import DatasetVersion
from mlcycle.models import ModelMeta, save_package, store_package
from mlcycle.store import Workspace
from mlcycle.store.schema import (
    ArtifactRow,
    ExperimentRow,
    MetricRow,
    ParamRow,
    RunInputRow,
    RunLineageRow,
    RunRow,
    TagRow,
)
from mlcycle.tracking._environment import environment, git_commit

RUNNING, FINISHED, FAILED = "RUNNING", "FINISHED", "FAILED"


def experiment_id(ws: Workspace, name: str) -> str:
    """Return the id of experiment `name`, creating it if needed."""
    with ws.db.session() as s:
        row = s.scalars(select(ExperimentRow).filter_by(name=name)).first()
        if row is None:
            row = ExperimentRow(id=new_id(), name=name, created_at=now())
            s.add(row)
        return row.id


class Run:
    """A live run: log params, metrics, tags, artifacts, inputs and models.

    Use as a context manager (see :func:`start_run`); not thread-safe.
    """

    def __init__(
        self, ws: Workspace, run_id: str, experiment: str, git_commit: str | None = None
    ) -> None:
        self.ws = ws
        self.id = run_id
        self.experiment = experiment
        self.git_commit = git_commit
        self._params: dict[str, str] = {}

    def log_param(self, key: str, value: Any) -> None:
        """Record a parameter; logging a key again with another value is an error.

        Raises:
            InputError: if `key` was logged before with a different value.
        """
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record several parameters at once (stringified); see :meth:`log_param`."""
        new = {}
        for key, value in params.items():
            text = str(value)
            old = self._params.get(key)
            if old is not None and old != text:
                raise InputError(
                    f"Param '{key}' of run {self.id} was logged as {old!r}; "
                    f"cannot change it to {text!r} (params are immutable)"
                )
            if old is None:
                new[key] = text
        with self.ws.db.session() as s:
            s.add_all(ParamRow(run_id=self.id, key=k, value=v) for k, v in new.items())
        self._params.update(new)

    def log_metric(self, key: str, value: float, step: int = 0) -> None:
        """Record one point of metric series `key` at `step`."""
        self.log_metrics({key: value}, step=step)

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """Record several metrics at one step.

        Raises:
            InputError: if a value is not a finite number.
        """
        stamp = now()
        rows = []
        for key, value in metrics.items():
            number = float(value)
            if not math.isfinite(number):
                raise InputError(f"Metric '{key}' must be a finite number; got {value!r}")
            rows.append(
                MetricRow(run_id=self.id, key=key, step=step, value=number, timestamp=stamp)
            )
        with self.ws.db.session() as s:
            s.add_all(rows)

    def set_tag(self, key: str, value: Any) -> None:
        """Set (or overwrite) tag `key`."""
        with self.ws.db.session() as s:
            s.merge(TagRow(run_id=self.id, key=key, value=str(value)))

    def log_artifact(self, path: str | Path, name: str | None = None) -> str:
        """Store the file at `path` as artifact `name` (default: its name); return its object id."""
        p = Path(path)
        oid = self.ws.objects.put_file(p)
        with self.ws.db.session() as s:
            row = ArtifactRow(
                run_id=self.id, path=name or p.name, object_id=oid, size=p.stat().st_size
            )
            s.merge(row)
        return oid

    def log_stored(self, name: str, object_id: str, size: int) -> None:
        """Record artifact `name` as object `object_id` (`size` bytes), already in the store."""
        with self.ws.db.session() as s:
            s.merge(ArtifactRow(run_id=self.id, path=name, object_id=object_id, size=size))

    def log_upstream(self, run_id: str) -> None:
        """Record that this run consumed an output of run `run_id` (pipeline lineage)."""
        with self.ws.db.session() as s:
            s.merge(RunLineageRow(run_id=self.id, upstream_run_id=run_id))

    def log_input(self, dataset: DatasetVersion, role: str = "training") -> None:
        """Record that this run used `dataset` (lineage)."""
        with self.ws.db.session() as s:
            s.merge(RunInputRow(run_id=self.id, dataset_version_id=dataset.id, role=role))

    def log_model(self, model: Any, meta: ModelMeta, name: str = "model") -> str:
        """Package `model` with `meta`, store it as artifact `name`; return the package id.

        The run id is added to the package's lineage.
        """
        lineage = {**meta.lineage, "run_id": self.id}
        meta = ModelMeta(meta.task, meta.signature, meta.flavor, meta.metrics, meta.params, lineage)
        with tempfile.TemporaryDirectory() as tmp:
            folder = save_package(model, meta, Path(tmp) / "package")
            package_id = store_package(self.ws.objects, folder)
            size = sum(p.stat().st_size for p in folder.iterdir())
        with self.ws.db.session() as s:
            s.merge(ArtifactRow(run_id=self.id, path=name, object_id=package_id, size=size))
        return package_id

    def end(self, status: str = FINISHED) -> None:
        """Mark the run ended with `status` (FINISHED or FAILED)."""
        with self.ws.db.session() as s:
            row = s.get(RunRow, self.id)
            if row is not None:
                row.status, row.end_time = status, now()

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.end(FAILED if exc_type else FINISHED)


def start_run(
    ws: Workspace,
    *,
    experiment: str = "default",
    name: str | None = None,
    parent_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> Run:
    """Start a run in `experiment` (created if needed) and return its live handle.

    Records start time, git commit of the workspace, Python and package versions.
    """
    run_id, exp_id, commit = new_id(), experiment_id(ws, experiment), git_commit(ws.root)
    with ws.db.session() as s:
        s.add(
            RunRow(
                id=run_id,
                experiment_id=exp_id,
                parent_id=parent_id,
                name=name or run_id[:8],
                status=RUNNING,
                start_time=now(),
                end_time=None,
                git_commit=commit,
                environment=environment(),
            )
        )
    run = Run(ws, run_id, experiment, commit)
    for key, value in (tags or {}).items():
        run.set_tag(key, value)
    return run
