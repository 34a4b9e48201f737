"""What a run writes, as plain data: a new run and batches of params, tags, metrics.

These are the unit of work between a :class:`~mlcycle.tracking.Run` handle,
its background writer and a tracking store (the local database, or a
tracking server over HTTP, where they travel as JSON).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from mlcycle.core import InputError

#: Longest metric, param or tag key (the database column is 256 characters).
MAX_KEY = 250
#: Longest param value, as MLflow's (6,000 characters).
MAX_PARAM_VALUE = 6000
_BAD_KEY = re.compile(r"[\x00-\x1f\x7f]")


def finite_or_text(value: float) -> float | str:
    """Return `value`, or "NaN", "Infinity", "-Infinity" if it is not finite (JSON has none).

    The one spelling used wherever a float must become JSON; `float()` reads it back.
    """
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def check_key(kind: str, key: str) -> str:
    """Return `key` if it can name a metric, param or tag; raise otherwise.

    Any printable text works (spaces, slashes, dots, dashes, unicode); search
    quotes odd keys in backticks. `kind` ("metric", "param", "tag") names
    the culprit in the error.

    Raises:
        InputError: if `key` is not a string, is empty or blank, is longer
            than :data:`MAX_KEY` characters or holds control characters.
    """
    if not isinstance(key, str) or not key.strip():
        raise InputError(f"{kind} key must be a non-empty string; got {key!r}")
    if len(key) > MAX_KEY:
        raise InputError(f"{kind} key {key[:40]!r}... is {len(key)} characters; at most {MAX_KEY}")
    if _BAD_KEY.search(key):
        raise InputError(f"{kind} key {key!r} holds a control character")
    return key


@dataclass
class NewRun:
    """A run to create: identity, place in the experiment tree, provenance.

    Times are seconds since the epoch.
    """

    id: str
    experiment: str
    name: str
    start_time: float
    parent_id: str | None = None
    git_commit: str | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    status: str = "RUNNING"
    end_time: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-safe dict (the body of `POST /api/runs`)."""
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> NewRun:
        """Build from :meth:`to_json`'s output.

        Raises:
            InputError: if a field is missing or unknown.
        """
        try:
            return cls(**body)
        except TypeError as err:
            raise InputError(f"bad run: {err}") from None


@dataclass
class MetricColumns:
    """Points of one metric series, as three equal-length columns.

    `steps` are ints, `values` floats (NaN and infinities allowed),
    `timestamps` seconds since the epoch.
    """

    steps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    timestamps: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.steps)


@dataclass
class RunBatch:
    """Writes to one run, applied in one transaction by a tracking store.

    `params` must not change a value logged before; `tags` overwrite;
    `artifacts` maps artifact path to `(object id, size in bytes)`; `status`
    and `end_time` end the run when set. `id` (32 hex) makes a retried
    upload idempotent: a store applies each batch id at most once.
    """

    run_id: str
    metrics: dict[str, MetricColumns] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, tuple[str, int]] = field(default_factory=dict)
    status: str | None = None
    end_time: float | None = None
    id: str | None = None

    def empty(self) -> bool:
        """Whether the batch writes nothing."""
        return not (self.metrics or self.params or self.tags or self.artifacts or self.status)

    def points(self) -> int:
        """Number of metric points in the batch."""
        return sum(len(c) for c in self.metrics.values())

    def to_json(self) -> dict[str, Any]:
        """Return a JSON dict; non-finite values become "NaN", "Infinity", "-Infinity"."""
        return {
            "id": self.id,
            "run_id": self.run_id,
            "metrics": {
                k: {
                    "steps": c.steps,
                    "values": [finite_or_text(v) for v in c.values],
                    "timestamps": c.timestamps,
                }
                for k, c in self.metrics.items()
            },
            "params": self.params,
            "tags": self.tags,
            "artifacts": {k: list(v) for k, v in self.artifacts.items()},
            "status": self.status,
            "end_time": self.end_time,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> RunBatch:
        """Parse :meth:`to_json`'s output, checking keys and shapes.

        Raises:
            InputError: naming the field that is missing or malformed.
        """
        try:
            metrics = {}
            for key, col in (body.get("metrics") or {}).items():
                check_key("metric", key)
                steps = [int(s) for s in col["steps"]]
                values = [float(v) for v in col["values"]]  # float() reads "NaN", "Infinity"
                stamps = [float(t) for t in col["timestamps"]]
                if not len(steps) == len(values) == len(stamps):
                    raise InputError(
                        f"metric {key!r}: steps, values and timestamps differ in length"
                    )
                metrics[key] = MetricColumns(steps, values, stamps)
            return cls(
                run_id=str(body["run_id"]),
                metrics=metrics,
                params={
                    check_key("param", k): str(v) for k, v in (body.get("params") or {}).items()
                },
                tags={check_key("tag", k): str(v) for k, v in (body.get("tags") or {}).items()},
                artifacts={
                    str(k): (str(v[0]), int(v[1])) for k, v in (body.get("artifacts") or {}).items()
                },
                status=body.get("status"),
                end_time=body.get("end_time"),
                id=body.get("id"),
            )
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise InputError(f"bad batch: {type(err).__name__}: {err}") from None
