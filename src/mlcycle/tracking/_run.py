"""Runs: the live handle that logs (:class:`Run`), and how a run starts or is attached.

Params, metrics, tags and artifact records are buffered by the store's
background writer (see `tracking._writer`) and written in batches, so
logging never waits for the database or the network. A run that raises
ends with status `FAILED`.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from mlcycle.core import ConfigError, InputError, RunNotFound, new_id, now
from mlcycle.data import DatasetVersion
from mlcycle.models import ModelMeta, save_package, store_package
from mlcycle.store import Workspace
from mlcycle.store.schema import RunInputRow, RunLineageRow
from mlcycle.tracking._batch import MAX_PARAM_VALUE, NewRun, check_key
from mlcycle.tracking._environment import environment, git_commit
from mlcycle.tracking._store import TrackingStore, store_for

if TYPE_CHECKING:
    import pandas as pd

    from mlcycle.tracking._system import SystemMetrics

RUNNING, FINISHED, FAILED = "RUNNING", "FINISHED", "FAILED"


def experiment_id(ws: Workspace, name: str) -> str:
    """Return the id of experiment `name` in `ws`, creating it if needed."""
    from mlcycle.tracking._sql import SqlTrackingStore

    store = store_for(ws)
    assert isinstance(store, SqlTrackingStore)
    return store.experiment_id(name)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


class Run:
    """A live run: log params, metrics, tags, artifacts, inputs and models.

    Logging calls return at once (a few microseconds): the store's
    background writer writes them in batches. :meth:`flush` and :meth:`end`
    write everything now. Use as a context manager (see :func:`start_run`).
    Safe to use from several threads; several processes may log to one run
    (see :func:`attach_run`).

    Args:
        store: where the run lives (see `tracking._store`).
        run_id: the run's id (32 hex).
        experiment: the experiment's name.
        git_commit: the workspace's commit when the run started, if any.
        owner: whether leaving the `with` block ends the run (False for
            attached handles).
    """

    def __init__(
        self,
        store: TrackingStore,
        run_id: str,
        experiment: str,
        git_commit: str | None = None,
        *,
        owner: bool = True,
    ) -> None:
        self.store = store
        self.id = run_id
        self.experiment = experiment
        self.git_commit = git_commit
        self.owner = owner
        self._writer = store.writer
        self._params: dict[str, str] = {}
        self._keys: set[str] = set()
        self._system: SystemMetrics | None = None

    @property
    def ws(self) -> Workspace:
        """The local workspace the run is stored in.

        Raises:
            ConfigError: if the run logs to a tracking server.
        """
        ws = getattr(self.store, "ws", None)
        if ws is None:
            raise ConfigError(
                f"run {self.id} logs to the tracking server {self.store.uri}; "
                "this needs a local workspace (unset MLCYCLE_TRACKING_URI)"
            )
        return ws  # type: ignore[no-any-return]

    def _key(self, kind: str, key: str) -> str:
        if key not in self._keys:
            check_key(kind, key)
            self._keys.add(key)
        return key

    def log_param(self, key: str, value: Any) -> None:
        """Record a parameter (stringified); see :meth:`log_params`."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record several parameters at once (stringified, at most 6,000 characters each).

        Logging a key again with the same value is a no-op, as in MLflow.

        Raises:
            InputError: if a key is invalid (see `check_key`), a value too
                long, or a key was logged before with a different value (a
                change logged by another process is reported at the next
                :meth:`flush` or :meth:`end`).
        """
        new = {}
        for key, value in params.items():
            text = str(value)
            if len(text) > MAX_PARAM_VALUE:
                raise InputError(
                    f"Param '{key}' is {len(text)} characters; at most {MAX_PARAM_VALUE}"
                )
            old = self._params.get(key)
            if old is not None and old != text:
                raise InputError(
                    f"Param '{key}' of run {self.id} was logged as {old!r}; "
                    f"cannot change it to {text!r} (params are immutable)"
                )
            if old is None:
                new[self._key("param", key)] = text
        if new:
            self._params.update(new)
            self._writer.add_params(self.id, new)

    def log_metric(
        self, key: str, value: float, step: int = 0, timestamp: float | None = None
    ) -> None:
        """Record one point of metric series `key` at `step` (NaN and infinities are kept).

        `timestamp` is seconds since the epoch (default: now).

        Raises:
            InputError: if `key` is invalid or `value` is not a number.
        """
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InputError(f"Metric '{key}' must be a number; got {value!r}") from None
        self._writer.add_point(
            self.id,
            key if key in self._keys else self._key("metric", key),
            number,
            int(step),
            time.time() if timestamp is None else timestamp,
        )

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """Record several metrics at one step (see :meth:`log_metric`)."""
        stamp = time.time()
        for key, value in metrics.items():
            self.log_metric(key, value, step, stamp)

    def log_batch(
        self,
        metrics: Iterable[tuple[str, float, int] | tuple[str, float, int, float]] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Record many points, params and tags at once, as MLflow's `log_batch`.

        `metrics` holds `(key, value, step)` or `(key, value, step,
        timestamp)` tuples; points without a timestamp share one (now).

        Raises:
            InputError: as :meth:`log_metric` and :meth:`log_params`.
        """
        if params:
            self.log_params(params)
        if tags:
            self.set_tags(tags)
        points = metrics if isinstance(metrics, list) else list(metrics)
        if not points:
            return
        stamp = time.time()
        widths = set(map(len, points))
        if widths == {3}:  # transposed at C speed: the common case of MLflow-style batches
            keys, values, steps = zip(*points, strict=True)
            stamps: Sequence[float] = [stamp] * len(points)
        elif widths == {4}:
            keys, values, steps, stamps = zip(*points, strict=True)
        else:
            keys, values, steps = (tuple(p[i] for p in points) for i in range(3))
            stamps = [p[3] if len(p) > 3 else stamp for p in points]  # type: ignore[misc]
        if len(set(keys)) == 1:
            self._add_column(keys[0], steps, values, stamps)
            return
        groups: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            groups.setdefault(key, []).append(i)
        for key, idx in groups.items():
            pick = [steps[i] for i in idx], [values[i] for i in idx], [stamps[i] for i in idx]
            self._add_column(key, *pick)

    def _add_column(
        self, key: str, steps: Sequence[Any], values: Sequence[Any], stamps: Sequence[float]
    ) -> None:
        try:
            numbers = list(map(float, values))
            ints = list(map(int, steps))
        except (TypeError, ValueError):
            bad = next(v for v in (*values, *steps) if not _is_number(v))
            raise InputError(f"Metric '{key}' must be a number; got {bad!r}") from None
        self._writer.add_points(self.id, self._key("metric", key), ints, numbers, list(stamps))

    def log_series(
        self,
        key: str,
        values: Sequence[float] | npt.ArrayLike,
        steps: Sequence[int] | npt.ArrayLike | None = None,
    ) -> None:
        """Record a whole series of metric `key` at once (the fastest way to log many points).

        `steps` default to 0, 1, 2...; every point gets the same timestamp (now).

        Raises:
            InputError: if `key` is invalid, the values are not numbers, or
                `steps` differs in length from `values`.
        """
        try:
            vals = np.asarray(values, dtype=np.float64).ravel()
            stps = (
                np.arange(len(vals)) if steps is None else np.asarray(steps, dtype=np.int64).ravel()
            )
        except (TypeError, ValueError) as err:
            raise InputError(f"Metric '{key}': values and steps must be numbers ({err})") from None
        if len(stps) != len(vals):
            raise InputError(f"Metric '{key}': {len(vals)} values but {len(stps)} steps")
        self._writer.add_points(
            self.id,
            self._key("metric", key),
            stps.tolist(),
            vals.tolist(),
            [time.time()] * len(vals),
        )

    def set_tag(self, key: str, value: Any) -> None:
        """Set (or overwrite) tag `key` (stringified)."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set (or overwrite) several tags (stringified)."""
        self._writer.add_tags(self.id, {self._key("tag", k): str(v) for k, v in tags.items()})

    def log_artifact(self, path: str | Path, name: str | None = None) -> str:
        """Store the file at `path` (streamed) as artifact `name` (default: its name).

        Returns the object id (BLAKE3 hex of the bytes).

        Raises:
            InputError: if `path` is not a readable file.
        """
        p = Path(path)
        if not p.is_file():
            raise InputError(f"artifact {p} is not a file")
        oid, size = self.store.put_artifact(p)
        self._writer.add_artifact(self.id, name or p.name, oid, size)
        return oid

    def log_stored(self, name: str, object_id: str, size: int) -> None:
        """Record artifact `name` as object `object_id` (`size` bytes), already in the store."""
        self._writer.add_artifact(self.id, name, object_id, size)

    def log_upstream(self, run_id: str) -> None:
        """Record that this run consumed an output of run `run_id` (pipeline lineage)."""
        with self.ws.db.session() as s:
            s.merge(RunLineageRow(run_id=self.id, upstream_run_id=run_id))

    def log_input(self, dataset: DatasetVersion, role: str = "training") -> None:
        """Record that this run used `dataset` (lineage)."""
        with self.ws.db.session() as s:
            s.merge(RunInputRow(run_id=self.id, dataset_version_id=dataset.id, role=role))

    def log_model(
        self,
        model: Any,
        meta: ModelMeta,
        name: str = "model",
        *,
        evaluation_data: pd.DataFrame | None = None,
    ) -> str:
        """Package `model` with `meta`, store it as artifact `name`; return the package id.

        The run id is added to the package's lineage. Any flavor works
        (`meta.flavor` None infers it from the model); with
        `evaluation_data` (n_rows, >= n_inputs columns) the model is also
        converted to ONNX and served by onnxruntime if the conversion is
        faithful on those rows (see :func:`mlcycle.models.save_package`).

        Raises:
            InputError: if no flavor fits the model or its signature.
        """
        meta = dataclasses.replace(meta, lineage={**meta.lineage, "run_id": self.id})
        with tempfile.TemporaryDirectory() as tmp:
            folder = save_package(
                model, meta, Path(tmp) / "package", evaluation_data=evaluation_data
            )
            package_id = store_package(self.ws.objects, folder)
            size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        self.log_stored(name, package_id, size)
        return package_id

    def start_system_metrics(self, interval: float = 10.0) -> None:
        """Sample CPU, memory and GPU use every `interval` seconds until the run ends."""
        from mlcycle.tracking._system import SystemMetrics

        if self._system is None:
            self._system = SystemMetrics(self, interval)
            self._system.start()

    def flush(self) -> None:
        """Write everything buffered now.

        Raises:
            InputError: if another process had logged a param with another value.
            MlcycleError: if the store could not be written.
        """
        self._writer.flush(self.id)

    def end(self, status: str = FINISHED) -> None:
        """Flush and mark the run ended with `status` (FINISHED or FAILED).

        Raises:
            as :meth:`flush`.
        """
        if self._system is not None:
            self._system.stop()
            self._system = None
        self._writer.end(self.id, status, now())

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.owner:
            self.end(FAILED if exc_type else FINISHED)
        else:
            self.flush()


def start_run(
    target: Workspace | TrackingStore,
    *,
    experiment: str = "default",
    name: str | None = None,
    parent_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    system_metrics: bool | None = None,
) -> Run:
    """Start a run in `experiment` (created if needed) and return its live handle.

    `target` is a workspace (its database) or a tracking store (e.g. a
    tracking server). Records the start time (seconds since the epoch), the
    git commit of the workspace, Python and package versions.
    `system_metrics` (default: the workspace's `tracking.system_metrics`)
    samples CPU, memory and GPU use while the run is live.
    """
    ws = target if isinstance(target, Workspace) else getattr(target, "ws", None)
    store = store_for(target) if isinstance(target, Workspace) else target
    commit = git_commit(
        ws.root if ws is not None else Path.cwd()
    )  # a server run: the caller's checkout
    run_id = new_id()
    store.create_run(
        NewRun(
            id=run_id,
            experiment=experiment,
            name=name or run_id[:8],
            start_time=now(),
            parent_id=parent_id,
            git_commit=commit,
            environment=environment(),
        )
    )
    run = Run(store, run_id, experiment, commit)
    if tags:
        run.set_tags(tags)
    settings = ws.config.tracking if ws is not None else None
    if system_metrics if system_metrics is not None else (settings and settings.system_metrics):
        run.start_system_metrics(settings.system_metrics_interval if settings else 10.0)
    return run


def attach_run(target: Workspace | TrackingStore, run_id: str, experiment: str = "") -> Run:
    """Return a handle that logs to the existing run `run_id`, e.g. from a worker process.

    Leaving its `with` block flushes but does not end the run: the process
    that started it does.

    Raises:
        RunNotFound: if there is no run `run_id`.
    """
    store = store_for(target) if isinstance(target, Workspace) else target
    if not store.run_exists(run_id):
        raise RunNotFound(f"Run '{run_id}' does not exist")
    return Run(store, run_id, experiment, owner=False)
