"""The loop controller: checks windows on schedule or on new labels, and acts on the policy.

`Controller.tick(now)` is one pass: take the lease on the model, resume an
interrupted step, notice a production alias moved by hand, then check each
window that has ended (and has its labels), and retrain, gate, promote or
roll back as `loop.policy` says. `now` comes from a clock the caller owns,
so a test can drive a whole year in seconds; the lease uses wall time.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import func, select

from mlcycle.core import Config, ConfigError, MlcycleError, new_id
from mlcycle.data import read_table
from mlcycle.loop import _actions as act
from mlcycle.loop._durable import Decision, LoopState, commit, load_state
from mlcycle.loop._lease import acquire_lease, lease_holder, release_lease
from mlcycle.loop._windows import (
    EVENT_TIME,
    WindowCheck,
    check_window,
    first_window_start,
    labeled_xy,
    model_metric,
    read_model_log,
    rows_between,
    window_end,
)
from mlcycle.pipeline import Xy, features_and_target, primary_metric, split_training_period
from mlcycle.registry import alias_version, get_model_version
from mlcycle.store import Workspace
from mlcycle.store.schema import LabelRow

logger = logging.getLogger("mlcycle.loop")


@dataclass(frozen=True)
class TickResult:
    """One tick: whether this controller held the lease, the decisions it took, and
    when the schedule is next due (clock time)."""

    leased: bool
    decisions: tuple[Decision, ...]
    next_due: datetime


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{new_id()[:8]}"


class Controller:
    """Runs `config.loop.policy` for one registered model.

    Args:
        ws: the workspace (metadata DB, object store).
        config: the configuration; `loop.policy` and `data` must be set.
        wall: wall-clock seconds since the epoch, for the lease.

    Raises:
        ConfigError: if there is no policy or no data section.
    """

    def __init__(
        self, ws: Workspace, config: Config, *, wall: Callable[[], float] = time.time
    ) -> None:
        if config.loop.policy is None:
            raise ConfigError("mlcycle.yaml has no 'loop.policy' section; see docs/loop.md")
        self.ws, self.config, self.policy = ws, config, config.loop.policy
        self.data = config.require_data()
        self.model = self.policy.model or config.model_name
        self.metric = primary_metric(config)
        self.owner, self.wall = _owner(), wall
        self.models = act.Models(ws, self.model)
        self._out: list[Decision] = []

    def tick(self, now: datetime) -> TickResult:
        """Do everything that is due at clock time `now` (naive UTC); never raises
        :class:`MlcycleError`: failures become `error` decisions."""
        if not acquire_lease(
            self.ws, self.model, self.owner, self.wall(), self.policy.lease_seconds
        ):
            holder = lease_holder(self.ws, self.model, self.wall())
            logger.info("lease on %s held by %s; not acting", self.model, holder)
            return TickResult(False, (), self.next_due(now))
        self._out = []
        state = load_state(self.ws, self.model)
        try:
            self._resume(state)
            self._sync_production(state)
            if self._due(state, now):
                self._check_windows(state, now)
            commit(self.ws, self.model, state, None)
        except MlcycleError as err:
            self._fail(state, err)
        return TickResult(True, tuple(self._out), self.next_due(now))

    def close(self) -> None:
        """Release the lease (at a clean shutdown)."""
        release_lease(self.ws, self.model, self.owner)

    def next_due(self, now: datetime) -> datetime:
        """The next scheduled check after `now` (cron `policy.schedule`)."""
        from croniter import croniter  # type: ignore[import-untyped]

        due: datetime = croniter(self.policy.schedule, now).get_next(datetime)
        return due

    # -- bookkeeping -------------------------------------------------------

    def _record(self, state: LoopState, decision: Decision) -> None:
        commit(self.ws, self.model, state, decision)
        self._out.append(decision)
        logger.info("loop %s: %s: %s", self.model, decision.action, decision.reason)

    def _fail(self, state: LoopState, err: MlcycleError) -> None:
        evidence = {"phase": state.phase, "job": dict(state.job), "error": type(err).__name__}
        state.phase, state.job, state.breaches = "idle", {}, 0
        self._record(state, Decision("error", str(err), evidence))

    def _due(self, state: LoopState, now: datetime) -> bool:
        from croniter import croniter

        with self.ws.db.session() as s:
            labels = int(s.scalar(select(func.count()).select_from(LabelRow)) or 0)
        last = datetime.fromisoformat(state.last_check) if state.last_check else None
        scheduled = last is None or croniter(self.policy.schedule, last).get_next(datetime) <= now
        if not scheduled and labels == state.labels_seen:
            return False
        if scheduled:
            state.last_check = now.isoformat()
        state.labels_seen = labels
        return True

    # -- production and references ------------------------------------------

    def _reference(self, state: LoopState) -> tuple[pd.DataFrame, float]:
        ref = state.references[str(state.version)]
        return act.load_reference(self.ws, ref["object_id"]), float(ref["metric"])

    def _initial_reference(self, version: int) -> dict[str, object]:
        path = self.ws.root / self.data.path
        train, _ = split_training_period(read_table(path), self.config)
        xy = features_and_target(train, self.data)
        metrics = get_model_version(self.ws, self.model, version).metrics
        metric = metrics.get(self.metric, metrics.get(f"gate_{self.metric}"))
        if metric is None:
            model = self.models.get(version)
            metric = model_metric(model, xy.X, xy.y, self.config, self.metric)
        return {"object_id": act.store_reference(self.ws, xy.X), "metric": float(metric)}

    def _sync_production(self, state: LoopState) -> None:
        prod = alias_version(self.ws, self.model, "production")
        if state.version is None:
            state.version = prod
            state.references[str(prod)] = self._initial_reference(prod)
            self._record(state, Decision("adopted", f"watching v{prod}", {}, None, prod))
        elif prod != state.version:
            old = state.version
            ref = dict(state.references[str(old)])  # its own training rows are unknown here
            state.references.setdefault(str(prod), ref)
            state.phase, state.version, state.breaches = "watching", prod, 0
            state.job = {"version": prod, "previous": old}
            reason = f"production moved from v{old} to v{prod} outside the loop; watching it"
            self._record(state, Decision("promotion_seen", reason, {}, old, prod))

    # -- windows ---------------------------------------------------------------

    def _check_windows(self, state: LoopState, now: datetime) -> None:
        stamp = pd.Timestamp(now)
        size, delay = self.policy.window.size, pd.Timedelta(self.policy.window.label_delay)
        if state.next_window and window_end(pd.Timestamp(state.next_window), size) > stamp:
            return  # nothing has ended since the last check: skip reading the log
        log = read_model_log(self.ws, self.model, self.data.time_column)
        start = pd.Timestamp(state.next_window) if state.next_window else None
        start = start or first_window_start(log, size)
        while start is not None and window_end(start, size) <= stamp:
            end = window_end(start, size)
            rows = rows_between(log, start, end)
            if rows.empty:  # one decision for a whole gap, not one per empty window
                end = self._gap_end(log, end, stamp)
            labeled = rows["label"].notna().mean() if len(rows) else 0.0
            if labeled < self.policy.monitors.min_label_coverage and end + delay > stamp:
                return  # labels may still come: check it later
            self._check_one(state, log, (start, end), rows)
            start = end

    def _gap_end(self, log: pd.DataFrame, end: pd.Timestamp, now: pd.Timestamp) -> pd.Timestamp:
        later = log[EVENT_TIME][log[EVENT_TIME] >= end]
        stop = min(later.iloc[0], now) if len(later) else now
        while window_end(end, self.policy.window.size) <= stop:
            end = window_end(end, self.policy.window.size)
        return end

    def _check_one(
        self,
        state: LoopState,
        log: pd.DataFrame,
        bounds: tuple[pd.Timestamp, pd.Timestamp],
        rows: pd.DataFrame,
    ) -> None:
        state.next_window = bounds[1].isoformat()
        try:
            reference, ref_metric = self._reference(state)
            check = check_window(
                rows,
                reference,
                self.config,
                (bounds[0].isoformat(), bounds[1].isoformat()),
                metric=self.metric,
                min_rows=self.policy.monitors.min_rows,
            )
            if check.note:
                self._record(state, Decision("not_enough_data", check.note, {"window": check}))
            elif state.phase == "watching":
                self._watch(state, rows, check)
            else:
                self._judge(state, log, check, ref_metric)
        except MlcycleError as err:
            self._fail(state, err)

    def _breaches(self, check: WindowCheck, ref_metric: float) -> list[str]:
        mon, reasons = self.policy.monitors, []
        if mon.drift_share is not None and (check.drift_share or 0.0) > mon.drift_share:
            reasons.append(f"drift share {check.drift_share:.2f} > {mon.drift_share:g}")
        limit = mon.metric_factor * ref_metric if mon.metric_factor is not None else None
        if limit is not None and check.live is not None and check.live > limit:
            reasons.append(
                f"live {self.metric} {check.live:.4g} > {mon.metric_factor:g} x {ref_metric:.4g}"
            )
        if check.missing:
            reasons.append(f"features missing: {', '.join(check.missing)}")
        return reasons

    def _judge(
        self, state: LoopState, log: pd.DataFrame, check: WindowCheck, ref_metric: float
    ) -> None:
        reasons = self._breaches(check, ref_metric)
        state.breaches = state.breaches + 1 if reasons else 0
        evidence = {"window": check, "training_metric": ref_metric, "breaches": state.breaches}
        summary = "; ".join(reasons) or "within the policy"
        if state.breaches < self.policy.monitors.consecutive:
            self._record(state, Decision("checked", summary, evidence, to_version=state.version))
            return
        state.phase, state.job = "retraining", {"start": check.start, "end": check.end}
        self._record(state, Decision("retrain", summary, evidence, to_version=state.version))
        self._retrain(state, log)

    # -- retrain, gate, watch --------------------------------------------------

    def _resume(self, state: LoopState) -> None:
        if state.phase not in ("retraining", "gating"):
            return
        label = f"retrain {state.job['start'][:10]}"
        failed = act.fail_dangling_runs(self.ws, label)
        reason = f"resuming an interrupted {state.phase} step; marked {len(failed)} run(s) failed"
        self._record(state, Decision("resumed", reason, {"failed_runs": failed, **state.job}))
        log = read_model_log(self.ws, self.model, self.data.time_column)
        (self._retrain if state.phase == "retraining" else self._gate)(state, log)

    def _window_xy(self, log: pd.DataFrame, job: dict[str, object]) -> tuple[Xy, pd.Timestamp]:
        start = pd.Timestamp(str(job["start"]))
        rows = rows_between(log, start, pd.Timestamp(str(job["end"])))
        return Xy(*labeled_xy(rows, self.data)), start

    def _retrain(self, state: LoopState, log: pd.DataFrame) -> None:
        gate_on, start = self._window_xy(log, state.job)
        rows = act.training_rows(log, start, self.policy)
        if len(rows) < self.policy.monitors.min_rows:
            state.phase, state.job, state.breaches = "idle", {}, 0
            reason = f"not enough data: {len(rows)} labeled rows to retrain on"
            self._record(state, Decision("not_enough_data", reason, {"train_rows": len(rows)}))
            return
        train = Xy(*labeled_xy(rows, self.data))
        prod = self.models.get(int(state.version or 0))
        cand = act.retrain(self.ws, self.config, prod, train, gate_on, state.job["start"][:10])
        v, metric = cand.version.version, cand.version.metrics[f"gate_{self.metric}"]
        ref_id = act.store_reference(self.ws, train.X)
        state.references[str(v)] = {"object_id": ref_id, "metric": metric}
        state.phase = "gating"
        state.job = {
            **state.job,
            "candidate": v,
            "candidate_metric": metric,
            "run_id": cand.version.run_id,
        }
        evidence = {
            "window": [state.job["start"], state.job["end"]],
            "run_id": cand.version.run_id,
            "train_rows": len(train),
            "gate_rows": len(gate_on),
        }
        self._record(state, Decision("retrained", f"candidate v{v}", evidence, state.version, v))
        self._gate(state, log)

    def _gate(self, state: LoopState, log: pd.DataFrame) -> None:
        gate_on, _ = self._window_xy(log, state.job)
        prod = int(state.version or 0)
        cand = int(state.job["candidate"])
        evidence = {
            "metric": self.metric,
            "window": [state.job["start"], state.job["end"]],
            "candidate_run": state.job.get("run_id"),
        }
        promoted, decision = act.gate_and_promote(
            self.ws,
            self.config,
            self.policy,
            (cand, float(state.job["candidate_metric"])),
            (prod, self.models.get(prod)),
            gate_on,
            evidence,
        )
        state.breaches = 0
        if promoted:
            state.phase, state.version, state.job = (
                "watching",
                cand,
                {"version": cand, "previous": prod},
            )
        else:
            state.phase, state.job = "idle", {}
        self._record(state, decision)

    def _watch(self, state: LoopState, rows: pd.DataFrame, check: WindowCheck) -> None:
        new, old = int(state.job["version"]), int(state.job["previous"])
        rolled, decision = act.rollback_check(
            self.ws,
            self.config,
            self.policy,
            (new, self.models.get(new)),
            (old, self.models.get(old)),
            rows,
            self.metric,
        )
        state.phase, state.job, state.breaches = "idle", {}, 0
        if rolled:
            state.version = old
        evidence = {**decision.evidence, "window": check}
        self._record(
            state,
            Decision(
                decision.action,
                decision.reason,
                evidence,
                decision.from_version,
                decision.to_version,
            ),
        )
