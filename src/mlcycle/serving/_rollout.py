"""A deployment: the primary model plus canary, A/B and shadow variants.

Each variant is a :class:`ModelHolder` following its own alias (or pinned
to a version); one poller thread refreshes them all and runs the
rollback guard. Routing is a deterministic hash: a request's bucket in
[0, 1) is BLAKE2b of its routing key, so a canary takes `percent`% of
request ids and an A/B arm takes `percent`% of sticky keys, the same key
always landing on the same arm (as long as the arm's share is unchanged).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from mlcycle.core import DeploymentConfig, MlcycleError
from mlcycle.serving._holder import ModelHolder, Served, parse_model_ref
from mlcycle.serving._rollback import RollbackEvent, RollbackGuard, VersionStats
from mlcycle.store import Workspace

log = logging.getLogger("mlcycle.serving")


def bucket(key: str) -> float:
    """Map `key` to a point in [0, 1), uniformly and the same in every process."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


class Deployment:
    """What one server answers with, and how it shares the traffic.

    Args:
        primary: the holder that answers every request no split takes.
        splits: (holder, share) pairs, share in (0, 1], together at most 1.
        sticky_header: for A/B: the request header whose value is the
            routing key; None for a canary (the request id is the key).
        shadow: a holder that gets a copy of every request after the
            primary answered; its answer is logged, never returned.
        guard: rolls back aliases that move to a misbehaving version.
    """

    def __init__(
        self,
        primary: ModelHolder,
        *,
        splits: Sequence[tuple[ModelHolder, float]] = (),
        sticky_header: str | None = None,
        shadow: ModelHolder | None = None,
        guard: RollbackGuard | None = None,
    ) -> None:
        self.primary = primary
        self.splits = tuple(splits)
        self.sticky_header = sticky_header
        self.shadow = shadow
        self.guard = guard
        self.stats: dict[int, VersionStats] = {}  # per version, since it was swapped in
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for holder in self.holders():
            holder.on_swap(self._swapped)

    def holders(self) -> list[ModelHolder]:
        """Every distinct holder: primary, split targets, shadow."""
        all_ = [self.primary, *(h for h, _ in self.splits), *([self.shadow] if self.shadow else [])]
        return list({id(h): h for h in all_}.values())

    def route(self, request_id: str, key: str | None) -> tuple[Served, str]:
        """Pick the version that answers: returns (served, role "primary" | "canary")."""
        point = bucket(key if key and self.sticky_header else request_id)
        edge = 0.0
        for holder, share in self.splits:
            edge += share
            if point < edge:
                return holder.current, "primary" if holder is self.primary else "canary"
        return self.primary.current, "primary"

    def record(self, served: Served, seconds: float, failed: bool) -> None:
        """Count one request answered (or failed) by `served` in `seconds`."""
        self.stats.setdefault(served.version, VersionStats()).add(seconds, failed)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in the background (shadow requests), keeping a reference until done."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _swapped(self, holder: ModelHolder, old: Served, new: Served) -> None:
        stats = self.stats[new.version] = VersionStats()
        if self.guard is not None:
            self.guard.swapped(holder, old, new, stats)

    def poll(self) -> None:
        """Refresh every holder and run the rollback guard once; errors are logged."""
        for holder in self.holders():
            try:
                holder.refresh()
            except MlcycleError as err:  # keep serving the current version
                log.error("%s: alias check failed, still serving v%d: %s", holder.ref,
                          holder.current.version, err)  # fmt: skip
        if self.guard is not None:
            try:
                self.guard.check()
            except MlcycleError as err:
                log.error("rollback check failed: %s", err)

    def start(self, poll_seconds: float) -> None:
        """Start polling in a daemon thread every `poll_seconds`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, args=(poll_seconds,), daemon=True)
            self._thread.start()

    def _loop(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            self.poll()

    def stop(self) -> None:
        """Stop polling (waits up to 5 s for the poller)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def build_deployment(
    ws: Workspace,
    config: DeploymentConfig,
    *,
    on_rollback: Callable[[RollbackEvent], None] | None = None,
) -> Deployment:
    """Load every version `config` serves (loaded and warmed before returning).

    Raises:
        ModelNotFound: if the model or any alias or version it names does not exist.
    """
    holders: dict[str, ModelHolder] = {}

    def holder(target: str) -> ModelHolder:
        if target not in holders:
            holders[target] = ModelHolder(ws, f"{config.model}@{target}")
        return holders[target]

    guard = RollbackGuard(config.rollback, on_rollback) if config.rollback else None
    return Deployment(
        holder(config.alias),
        splits=[(holder(s.target), s.percent / 100.0) for s in config.splits],
        sticky_header=config.sticky_header if config.sticky else None,
        shadow=holder(config.shadow) if config.shadow else None,
        guard=guard,
    )


def single_deployment(ref: str) -> DeploymentConfig:
    """The deployment of `NAME@ALIAS` or `NAME@VERSION` alone (no variants).

    Raises:
        ModelNotFound: if `ref` has no name.
    """
    name, alias, version = parse_model_ref(ref)
    return DeploymentConfig(model=name, alias=alias or str(version))
