"""Loop: the policy that ties monitoring -> pipeline -> registry -> serving."""

from __future__ import annotations

from mlcycle.loop._client import ReplayClient, json_records
from mlcycle.loop._replay import (
    Observer,
    ReplayResult,
    SilentObserver,
    WindowOutcome,
    run_replay,
)
from mlcycle.loop._report import write_loop_report
from mlcycle.loop._state import Production, retrain_rows

__all__ = [
    "Observer",
    "Production",
    "ReplayClient",
    "ReplayResult",
    "SilentObserver",
    "WindowOutcome",
    "json_records",
    "retrain_rows",
    "run_replay",
    "write_loop_report",
]
