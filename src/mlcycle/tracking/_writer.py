"""The background writer: buffers run writes in memory, flushes them in batches.

`log_metric` only appends to three lists under a lock (about a microsecond);
a daemon thread hands everything buffered to the store every
`flush_interval` seconds, or sooner once `max_points` are waiting. Runs
ending, explicit flushes and interpreter exit flush synchronously, so a
clean exit loses nothing and a crash or `kill -9` loses at most one
interval. A store write is one transaction: the store is never left
half-written.
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from collections.abc import Callable, Sequence

from mlcycle.core import InputError, MlcycleError
from mlcycle.tracking._batch import MetricColumns, RunBatch

WriteFn = Callable[[Sequence[RunBatch]], list[tuple[str, str]]]

_WRITERS: weakref.WeakSet[BackgroundWriter] = weakref.WeakSet()


class BackgroundWriter:
    """Buffers writes to runs and flushes them to `write` from a daemon thread.

    Args:
        write: applies batches in one transaction and returns `(run id,
            message)` of each refused param change (e.g. `SqlTrackingStore.write`).
        interval: seconds between timed flushes.
        max_points: metric points buffered before a flush starts early.
    """

    def __init__(self, write: WriteFn, interval: float = 1.0, max_points: int = 200_000) -> None:
        self._write = write
        self.interval = interval
        self.max_points = max_points
        self._lock = threading.Lock()  # guards the buffers
        self._flushing = threading.Lock()  # keeps flushes in order
        self._pending: dict[str, RunBatch] = {}
        self._points = 0
        self._errors: dict[str, list[tuple[bool, str]]] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        _WRITERS.add(self)
        atexit.register(_flush_at_exit, weakref.ref(self))

    def _batch(self, run_id: str) -> RunBatch:
        # callers hold self._lock
        batch = self._pending.get(run_id)
        if batch is None:
            batch = self._pending[run_id] = RunBatch(run_id)
            if self._thread is None:
                self._start()
        return batch

    def _column(self, run_id: str, key: str) -> MetricColumns:
        # callers hold self._lock
        metrics = self._batch(run_id).metrics
        col = metrics.get(key)
        if col is None:
            col = metrics[key] = MetricColumns()
        return col

    def _count(self, points: int) -> None:
        # callers hold self._lock; a full buffer wakes the thread for an early flush
        self._points += points
        if self._points >= self.max_points:
            self._wake.set()

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="mlcycle-writer", daemon=True)
        self._thread.start()

    def add_point(self, run_id: str, key: str, value: float, step: int, stamp: float) -> None:
        """Buffer one metric point."""
        with self._lock:
            col = self._column(run_id, key)
            col.steps.append(step)
            col.values.append(value)
            col.timestamps.append(stamp)
            self._count(1)

    def add_points(
        self,
        run_id: str,
        key: str,
        steps: Sequence[int],
        values: Sequence[float],
        stamps: Sequence[float],
    ) -> None:
        """Buffer many points of one metric (equal-length columns)."""
        with self._lock:
            col = self._column(run_id, key)
            col.steps.extend(steps)
            col.values.extend(values)
            col.timestamps.extend(stamps)
            self._count(len(steps))

    def add_params(self, run_id: str, params: dict[str, str]) -> None:
        """Buffer params (the store refuses changes to a stored value)."""
        with self._lock:
            self._batch(run_id).params.update(params)

    def add_tags(self, run_id: str, tags: dict[str, str]) -> None:
        """Buffer tags (last value wins)."""
        with self._lock:
            self._batch(run_id).tags.update(tags)

    def add_artifact(self, run_id: str, path: str, object_id: str, size: int) -> None:
        """Buffer an artifact record (the object is already stored)."""
        with self._lock:
            self._batch(run_id).artifacts[path] = (object_id, size)

    def end(self, run_id: str, status: str, end_time: float) -> None:
        """Buffer the end of a run and flush everything now.

        Raises:
            InputError: if a param change of this run was refused.
            MlcycleError: if the store could not be written.
        """
        with self._lock:
            batch = self._batch(run_id)
            batch.status, batch.end_time = status, end_time
        self.flush(run_id)

    def flush(self, run_id: str | None = None) -> None:
        """Write everything buffered, for all runs, now; then report `run_id`'s problems.

        Raises:
            InputError: if a param change of run `run_id` was refused.
            MlcycleError: if a write for run `run_id` failed.
        """
        with self._flushing:
            with self._lock:
                batches, self._pending, self._points = list(self._pending.values()), {}, 0
            if batches:
                self._write_all(batches)
        if run_id is not None and run_id in self._errors:
            problems = self._errors.pop(run_id)
            error = InputError if all(refused for refused, _ in problems) else MlcycleError
            raise error("; ".join(message for _, message in problems))

    def _write_all(self, batches: list[RunBatch]) -> None:
        try:
            conflicts = self._write(batches)
        except Exception as err:
            for b in batches:
                message = f"could not log to run {b.run_id}: {type(err).__name__}: {err}"
                self._errors.setdefault(b.run_id, []).append((False, message))
            return
        for run_id, message in conflicts:
            self._errors.setdefault(run_id, []).append((True, message))

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()
            with self._lock:
                if not self._pending:  # idle: stop; the next write starts a thread again
                    self._thread = None
                    return

    def _after_fork(self) -> None:
        # the child has no writer thread and must not re-send the parent's buffer
        self._lock, self._flushing = threading.Lock(), threading.Lock()
        self._pending, self._points, self._errors = {}, 0, {}
        self._wake, self._thread = threading.Event(), None


def _flush_at_exit(ref: weakref.ref[BackgroundWriter]) -> None:
    writer = ref()
    if writer is not None:
        writer.flush()


def _reset_after_fork() -> None:
    for writer in list(_WRITERS):
        writer._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
