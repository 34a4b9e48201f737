"""The controller's durable state (table `loop_state`) and its decisions (table `audit_events`).

Each decision writes the new state and its audit event in one transaction,
so after a crash the state never claims a step the history does not show
(or the reverse).

The state machine, per model::

    idle --(breaches >= consecutive)--> retraining --(candidate registered)--> gating
    gating --(gate passed: promoted)--> watching --(next labeled window)--> idle
    gating --(gate failed: alert)--> idle          (watching may end in a rollback)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sqlalchemy import select

from mlcycle.core import now
from mlcycle.monitoring._jsonsafe import json_safe
from mlcycle.store import Workspace
from mlcycle.store.schema import AuditEventRow, LoopStateRow

ACTOR = "mlcycle-loop"
"""The actor of every audit event the controller writes."""

Phase = Literal["idle", "retraining", "gating", "watching"]


@dataclass
class LoopState:
    """What the controller remembers about one model between ticks and restarts.

    `version`: the production version it knows; `references`: per version,
    the object id of its reference features (Parquet) and its training
    metric; `next_window`: start (ISO) of the next window to check;
    `breaches`: bad windows in a row; `last_check`: the clock time (ISO)
    of the last scheduled check; `labels_seen`: label rows at that time;
    `job`: the step in progress (window, candidate, watched version ...).
    """

    phase: Phase = "idle"
    version: int | None = None
    references: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_window: str | None = None
    breaches: int = 0
    last_check: str | None = None
    labels_seen: int = 0
    job: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> LoopState:
        """Rebuild the state from its stored JSON (unknown keys are ignored)."""
        return cls(**{k: v for k, v in raw.items() if k in cls.__dataclass_fields__})


def load_state(ws: Workspace, model: str) -> LoopState:
    """The stored state of `model`'s loop, or a fresh one."""
    with ws.db.session() as s:
        row = s.get(LoopStateRow, model)
        return LoopState.from_json(row.state) if row is not None else LoopState()


@dataclass(frozen=True)
class Decision:
    """One audit event of the loop: the action, why, and the evidence (JSON)."""

    action: str
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)
    from_version: int | None = None
    to_version: int | None = None


def commit(ws: Workspace, model: str, state: LoopState, decision: Decision | None) -> None:
    """Write `state` and, if given, `decision` as an audit event, in one transaction."""
    stamp = now()
    with ws.db.session() as s:
        row = s.get(LoopStateRow, model)
        if row is None:
            s.add(LoopStateRow(model_name=model, state=json_safe(asdict(state)), updated_at=stamp))
        else:
            row.state, row.updated_at = json_safe(asdict(state)), stamp
        if decision is not None:
            s.add(_event_row(model, decision, stamp))


def _event_row(model: str, decision: Decision, stamp: float) -> AuditEventRow:
    return AuditEventRow(
        timestamp=stamp,
        actor=ACTOR,
        action=f"loop.{decision.action}",
        model_name=model,
        alias="production",
        from_version=decision.from_version,
        to_version=decision.to_version,
        reason=decision.reason,
        evidence=json_safe(decision.evidence),
    )


def loop_events(ws: Workspace, model: str | None = None, limit: int = 50) -> list[AuditEventRow]:
    """The loop's audit events (`loop.*` actions), newest first, detached from the session."""
    query = (
        select(AuditEventRow)
        .where(AuditEventRow.action.startswith("loop."))
        .order_by(AuditEventRow.id.desc())
        .limit(limit)
    )
    if model:
        query = query.where(AuditEventRow.model_name == model)
    with ws.db.session() as s:
        rows = list(s.scalars(query))
        s.expunge_all()
    return rows
