"""Frozen records that tracking queries return."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MetricPoint:
    """One value of a metric series: step, value, timestamp (seconds since epoch)."""

    step: int
    value: float
    timestamp: float


@dataclass(frozen=True)
class RunRecord:
    """A run as stored: identity, status, times (seconds since epoch), data and lineage.

    `metrics` holds the latest value of each metric (the highest step);
    `artifacts` maps artifact path to object id.
    """

    id: str
    experiment: str
    name: str
    status: str
    start_time: float
    end_time: float | None
    parent_id: str | None
    git_commit: str | None
    environment: dict[str, Any]
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    datasets: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or None while running."""
        return None if self.end_time is None else self.end_time - self.start_time

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {**self.__dict__, "duration": self.duration}
