"""Loop: the policy that ties monitoring -> pipeline -> registry -> serving."""

from __future__ import annotations

from mlcycle.loop._client import ReplayClient, json_records
from mlcycle.loop._controller import Controller, TickResult
from mlcycle.loop._durable import Decision, LoopState, load_state
from mlcycle.loop._history import LoopDecision, loop_history
from mlcycle.loop._labels import LabelsAdded, add_labels
from mlcycle.loop._lease import acquire_lease, lease_holder, release_lease
from mlcycle.loop._replay import (
    Observer,
    ReplayResult,
    SilentObserver,
    WindowOutcome,
    run_replay,
)
from mlcycle.loop._report import write_loop_report
from mlcycle.loop._runner import Clock, SystemClock, run_controller, start_controller_thread
from mlcycle.loop._state import Production, retrain_rows

__all__ = [
    "Clock",
    "Controller",
    "Decision",
    "LabelsAdded",
    "LoopDecision",
    "LoopState",
    "Observer",
    "Production",
    "ReplayClient",
    "ReplayResult",
    "SilentObserver",
    "SystemClock",
    "TickResult",
    "WindowOutcome",
    "acquire_lease",
    "add_labels",
    "json_records",
    "lease_holder",
    "load_state",
    "loop_history",
    "release_lease",
    "retrain_rows",
    "run_controller",
    "run_replay",
    "start_controller_thread",
    "write_loop_report",
]
