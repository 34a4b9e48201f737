"""The run of the step executing in this process, for user code inside a step."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from mlcycle.core import PipelineError

if TYPE_CHECKING:
    from mlcycle.tracking import Run

_current: list[Run] = []


def current_run() -> Run:
    """The tracked run of the pipeline step that is executing (to log metrics, artifacts).

    Raises:
        PipelineError: if called outside a step run by `mlcycle run` / :func:`run_pipeline`.
    """
    if not _current:
        raise PipelineError("current_run() works only inside a step run by 'mlcycle run'")
    return _current[-1]


@contextmanager
def running(run: Run) -> Iterator[Run]:
    """Make `run` the current run for the duration of the block."""
    _current.append(run)
    try:
        yield run
    finally:
        _current.pop()
