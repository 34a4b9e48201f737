"""`mlcycle loop run`: tick the controller until stopped, on schedule and on new labels."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Protocol

from mlcycle.loop._controller import Controller

logger = logging.getLogger("mlcycle.loop")


class Clock(Protocol):
    """Where the controller's time comes from (a simulated clock in tests)."""

    def now(self) -> datetime:
        """The current time, naive UTC."""


class SystemClock:
    """The real time, naive UTC."""

    def now(self) -> datetime:
        """The current time, naive UTC."""
        return datetime.now(UTC).replace(tzinfo=None)


def run_controller(
    controller: Controller,
    stop: threading.Event,
    *,
    clock: Clock | None = None,
    poll_seconds: float = 10.0,
) -> None:
    """Tick `controller` until `stop` is set, then release its lease.

    Between ticks it waits until the schedule is next due, but at most
    `poll_seconds` (seconds), so new labels are noticed soon. An unexpected
    error in a tick is logged and the loop goes on: a bug in one check must
    not stop the loop for every later one.
    """
    clock = clock or SystemClock()
    try:
        while not stop.is_set():
            now = clock.now()
            try:
                due = controller.tick(now).next_due
            except Exception:  # any bug: see the docstring
                logger.exception("loop tick failed for %s", controller.model)
                due = now
            stop.wait(min(poll_seconds, max(0.0, (due - clock.now()).total_seconds())))
    finally:
        controller.close()


def start_controller_thread(
    controller: Controller, *, poll_seconds: float = 10.0
) -> tuple[threading.Thread, threading.Event]:
    """Run :func:`run_controller` in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_controller,
        args=(controller, stop),
        kwargs={"poll_seconds": poll_seconds},
        name="mlcycle-loop",
        daemon=True,
    )
    thread.start()
    return thread, stop
