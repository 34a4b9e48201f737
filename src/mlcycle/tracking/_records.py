"""Frozen records that tracking queries return."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt


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


@dataclass(frozen=True)
class MetricSeries:
    """Every point of one metric of one run, as numpy columns sorted by step.

    `steps` int64, `values` float64 (NaN and infinities as logged),
    `timestamps` float64 seconds since the epoch; all of one length.
    """

    key: str
    steps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    timestamps: npt.NDArray[np.float64]

    @classmethod
    def empty(cls, key: str) -> MetricSeries:
        """A series with no points."""
        return cls(key, np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.float64))

    def __len__(self) -> int:
        return len(self.steps)

    def points(self) -> list[MetricPoint]:
        """The series as a list of :class:`MetricPoint` (slow for long series)."""
        return [
            MetricPoint(int(s), float(v), float(t))
            for s, v, t in zip(self.steps, self.values, self.timestamps, strict=True)
        ]
