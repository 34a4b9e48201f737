"""Executors: where pipeline steps and AutoML trials run.

An executor takes a picklable module-level function and its picklable
arguments and returns a :class:`concurrent.futures.Future`. Results must be
small (object ids, metrics): step outputs travel through mlcycle's object
store, so caching and lineage are the same on every executor.

- `local`: a process pool on this machine (independent steps in parallel).
- `ray`: a Ray cluster (:mod:`mlcycle.pipeline._ray`, needs `mlcycle[ray]`).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from mlcycle.core import ConfigError

R = TypeVar("R")


@dataclass(frozen=True)
class Resources:
    """What one task needs: CPUs and GPUs (fractions allowed), memory in bytes."""

    cpus: float = 1.0
    gpus: float = 0.0
    memory: int | None = None


class Executor(Protocol):
    """Runs tasks, possibly in parallel and elsewhere.

    Contract: `submit` never blocks on the task; the future raises the
    task's exception. `max_retries` is how often a task is rerun when its
    worker dies (not when it raises). `shutdown` waits for running tasks.
    """

    name: str

    def submit(
        self, fn: Callable[..., R], *args: Any, resources: Resources = ..., max_retries: int = ...
    ) -> Future[R]:
        """Start `fn(*args)` and return its future."""
        ...

    def shutdown(self) -> None:
        """Release the workers."""
        ...


class LocalExecutor:
    """A process pool of `max_workers` (default: the CPU count) on this machine.

    Workers start from a fork server (not a fork of the caller), so they
    never inherit the caller's open database connections or threads; the
    pool starts on the first `submit`. Resources are not enforced; a task
    that kills its worker process fails (the pool breaks), so
    `max_retries` is accepted and ignored.
    """

    name = "local"

    def __init__(self, max_workers: int | None = None) -> None:
        self._max_workers = max_workers or os.cpu_count() or 1
        self._started: ProcessPoolExecutor | None = None

    @property
    def _pool(self) -> ProcessPoolExecutor:
        if self._started is None:
            context = multiprocessing.get_context("forkserver")
            self._started = ProcessPoolExecutor(self._max_workers, mp_context=context)
        return self._started

    def submit(
        self,
        fn: Callable[..., R],
        *args: Any,
        resources: Resources = Resources(),
        max_retries: int = 0,
    ) -> Future[R]:
        """Start `fn(*args)` in a worker process."""
        return self._pool.submit(fn, *args)

    def shutdown(self) -> None:
        """Wait for running tasks and stop the worker processes."""
        if self._started is not None:
            self._started.shutdown(wait=True)


def make_executor(
    name: str, *, address: str | None = None, max_workers: int | None = None
) -> Executor:
    """Return the executor called `name` (`local` or `ray`).

    Raises:
        ConfigError: for an unknown name, or `ray` without `mlcycle[ray]` installed.
    """
    if name == "local":
        return LocalExecutor(max_workers)
    if name == "ray":
        from mlcycle.pipeline._ray import RayExecutor

        return RayExecutor(address)
    raise ConfigError(f"executor {name!r} is unknown; use 'local' or 'ray'")
