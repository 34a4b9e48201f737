"""Per-version request statistics and automatic rollback after a bad swap.

When a followed alias moves to a new version, :class:`RollbackGuard`
watches that version for `window_seconds`. Once it has answered at least
`min_requests`, an error rate above `max_error_rate` or a p99 latency
above `max_p99_ms` moves the alias back to the previous version with a
compare-and-set (so with several server processes exactly one moves it
and records the audit event), swaps back, and calls `on_rollback`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlcycle.core import MlcycleError, RollbackConfig
from mlcycle.registry import AuditEvent, move_alias_if
from mlcycle.serving._holder import ModelHolder, Served

log = logging.getLogger("mlcycle.serving")
ACTOR = "mlcycle-serve"
_MAX_LATENCIES = 10_000  # enough for a stable p99, bounded memory per version


class VersionStats:
    """Requests, server-side failures and latencies of one version (thread-safe).

    Latencies keep the last 10,000 requests; p99 is computed over them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.errors = 0
        self._latencies: deque[float] = deque(maxlen=_MAX_LATENCIES)

    def add(self, seconds: float, failed: bool) -> None:
        """Count one request that took `seconds` and failed on the server side or not."""
        with self._lock:
            self.requests += 1
            self.errors += failed
            self._latencies.append(seconds)

    def snapshot(self) -> dict[str, float]:
        """Return `requests`, `errors`, `error_rate` (in [0, 1]) and `p99_ms` (0 if none)."""
        with self._lock:
            ordered = sorted(self._latencies)
            requests, errors = self.requests, self.errors
        p99 = ordered[math.ceil(0.99 * len(ordered)) - 1] * 1000.0 if ordered else 0.0
        rate = errors / requests if requests else 0.0
        return {"requests": requests, "errors": errors, "error_rate": rate, "p99_ms": p99}


@dataclass(frozen=True)
class RollbackEvent:
    """An automatic rollback: the alias moved from `bad_version` back to `restored_version`.

    Attributes:
        model_name, alias: what moved.
        bad_version, restored_version: from and to.
        reason: which threshold was crossed, in words.
        evidence: the bad version's `requests`, `errors`, `error_rate`, `p99_ms`
            since the swap, plus the thresholds.
        audit: the registry's audit event of the move.
    """

    model_name: str
    alias: str
    bad_version: int
    restored_version: int
    reason: str
    evidence: dict[str, Any]
    audit: AuditEvent

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {**self.__dict__, "audit": self.audit.to_dict()}


@dataclass
class _Watch:
    holder: ModelHolder
    alias: str
    bad: int
    previous: int
    started: float
    stats: VersionStats


def breach(stats: dict[str, float], config: RollbackConfig) -> str | None:
    """Which threshold `stats` (a :meth:`VersionStats.snapshot`) crosses, in words, or None."""
    if stats["requests"] < config.min_requests:
        return None
    if stats["error_rate"] > config.max_error_rate:
        return f"error rate {stats['error_rate']:.1%} > {config.max_error_rate:.1%}"
    if config.max_p99_ms is not None and stats["p99_ms"] > config.max_p99_ms:
        return f"p99 latency {stats['p99_ms']:.0f} ms > {config.max_p99_ms:.0f} ms"
    return None


class RollbackGuard:
    """Watches versions swapped in and rolls their alias back when they misbehave.

    Args:
        config: the thresholds and the window.
        on_rollback: called with each :class:`RollbackEvent` this process made
            (e.g. to raise an alert); its errors are logged, not raised.
        clock: seconds, monotonic (tests may pass their own).
    """

    def __init__(
        self,
        config: RollbackConfig,
        on_rollback: Callable[[RollbackEvent], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.on_rollback = on_rollback
        self.clock = clock
        self._watches: dict[int, _Watch] = {}  # by id(holder): one watch per followed alias
        self._restoring: dict[int, int] = {}  # id(holder) -> version a rollback swaps back to
        self._lock = threading.Lock()

    def swapped(self, holder: ModelHolder, old: Served, new: Served, stats: VersionStats) -> None:
        """Start watching `new` (a swap listener), unless this is our own swap back."""
        if holder.alias is None:  # pinned versions never swap; nothing to roll back
            return
        watch = _Watch(holder, holder.alias, new.version, old.version, self.clock(), stats)
        with self._lock:
            if self._restoring.pop(id(holder), None) == new.version:
                self._watches.pop(id(holder), None)
            else:
                self._watches[id(holder)] = watch

    def watching(self) -> list[int]:
        """The versions still inside their window, sorted."""
        with self._lock:
            return sorted(w.bad for w in self._watches.values())

    def check(self) -> list[RollbackEvent]:
        """Roll back every watched version past a threshold; forget those past their window."""
        with self._lock:
            watches = list(self._watches.values())
        events = []
        for watch in watches:
            reason = breach(watch.stats.snapshot(), self.config)
            if reason is not None:
                event = self._roll_back(watch, reason)
                events += [event] if event is not None else []
            elif self.clock() - watch.started > self.config.window_seconds:
                with self._lock:
                    if self._watches.get(id(watch.holder)) is watch:
                        del self._watches[id(watch.holder)]
        return events

    def _roll_back(self, watch: _Watch, reason: str) -> RollbackEvent | None:
        holder = watch.holder
        evidence = {**watch.stats.snapshot(), **self.config.model_dump()}
        with self._lock:
            self._watches.pop(id(holder), None)
            self._restoring[id(holder)] = watch.previous
        audit = move_alias_if(
            holder.ws, holder.name, watch.alias, expected=watch.bad, version=watch.previous,
            reason=f"automatic rollback: {reason}", evidence=evidence, actor=ACTOR,
        )  # fmt: skip
        if audit is None:  # another process rolled back first, or someone moved the alias
            return None
        event = RollbackEvent(
            holder.name, watch.alias, watch.bad, watch.previous, reason, evidence, audit
        )
        log.error("%s rolled back to version %d: %s", holder.ref, watch.previous, reason)
        try:
            holder.refresh()
        except MlcycleError as err:  # the alias is back; the poller retries the swap
            log.error("swap back to version %d failed: %s", watch.previous, err)
        self._notify(event)
        return event

    def _notify(self, event: RollbackEvent) -> None:
        if self.on_rollback is None:
            return
        try:
            self.on_rollback(event)
        except (MlcycleError, OSError) as err:  # the rollback stands even if the alert fails
            log.error("rollback alert failed: %s", err)
