"""The loop's decisions, newest first, as records for the CLI, the REST API and the UI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlcycle.loop._durable import loop_events
from mlcycle.store import Workspace


@dataclass(frozen=True)
class LoopDecision:
    """One decision of the loop controller (an audit event with action `loop.*`).

    `timestamp` is in seconds since the epoch; `evidence` holds the numbers
    (window check, gate verdict), the run ids and report paths behind it.
    """

    id: int
    timestamp: float
    model_name: str
    action: str
    reason: str
    from_version: int | None
    to_version: int | None
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return dict(self.__dict__)

    @property
    def window(self) -> str:
        """The checked window as `start .. end` (dates), or '' when there is none."""
        win = self.evidence.get("window")
        if isinstance(win, dict):
            return f"{str(win.get('start', ''))[:10]} .. {str(win.get('end', ''))[:10]}"
        if isinstance(win, list) and len(win) == 2:
            return f"{str(win[0])[:10]} .. {str(win[1])[:10]}"
        return ""

    @property
    def runs(self) -> list[str]:
        """Run ids named in the evidence (the candidate's training run)."""
        found = [self.evidence.get("run_id"), self.evidence.get("candidate_run")]
        return [str(r) for r in found if r] + list(self.evidence.get("failed_runs", []))


def loop_history(ws: Workspace, model: str | None = None, limit: int = 50) -> list[LoopDecision]:
    """The loop's last `limit` decisions, newest first, optionally of one model."""
    return [
        LoopDecision(
            r.id,
            r.timestamp,
            r.model_name,
            r.action.removeprefix("loop."),
            r.reason,
            r.from_version,
            r.to_version,
            r.evidence,
        )
        for r in loop_events(ws, model, limit)
    ]
