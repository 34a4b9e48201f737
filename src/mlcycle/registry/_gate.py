"""The promotion gate: promote a candidate only if it beats production by a margin."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlcycle.registry._registry import AuditEvent, set_alias
from mlcycle.store import Workspace


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict on one candidate, with the numbers behind it.

    Both metrics are lower-is-better (e.g. MAE, log-loss) and measured on
    the same rows. `passed` iff candidate <= production * (1 - margin).
    """

    metric: str
    candidate: float
    production: float
    margin: float
    passed: bool

    @property
    def improvement(self) -> float:
        """Relative improvement of the candidate over production (0.1 = 10 % lower)."""
        return 1.0 - self.candidate / self.production if self.production else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {**self.__dict__, "improvement": self.improvement}


def gate(metric: str, candidate: float, production: float, margin: float) -> GateDecision:
    """Decide whether `candidate` beats `production` on a lower-is-better metric by `margin`."""
    passed = candidate <= production * (1.0 - margin)
    return GateDecision(metric, float(candidate), float(production), margin, passed)


def promote(
    ws: Workspace,
    name: str,
    version: int,
    decision: GateDecision,
    *,
    alias: str = "production",
    actor: str | None = None,
    evidence: Mapping[str, Any] | None = None,
) -> AuditEvent | None:
    """Move `alias` to `version` if `decision` passed; return the audit event or None."""
    if not decision.passed:
        return None
    reason = (
        f"gate passed: {decision.metric} {decision.candidate:.4g} vs "
        f"{decision.production:.4g} ({decision.improvement:+.1%})"
    )
    proof = {"gate": decision.to_dict(), **(evidence or {})}
    return set_alias(ws, name, alias, version, reason=reason, evidence=proof, actor=actor)
