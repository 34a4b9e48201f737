"""The shapes of the REST API's requests and responses, as pydantic models.

They document the API (the OpenAPI schema at `/openapi.json`, pages at
`/docs`) and check what the handlers return. Times are seconds since the
epoch (UTC), sizes bytes; metric values are numbers or one of the strings
"NaN", "Infinity", "-Infinity" (JSON has no non-finite numbers).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

#: A metric value: a JSON number, or the name of a non-finite one.
Number = float | Literal["NaN", "Infinity", "-Infinity"]


class ErrorOut(BaseModel):
    """Every error answer: one line naming the culprit and the fix."""

    error: str


class HealthOut(BaseModel):
    """The server is up and its database answers."""

    status: Literal["ok"]
    version: str


class ExperimentsOut(BaseModel):
    """The names of all experiments, sorted."""

    experiments: list[str]


class NewRunIn(BaseModel):
    """A run to create (`NewRun.to_json()`); the client chooses the id (32 hex)."""

    id: str = Field(pattern=r"^[0-9a-f]{32}$")
    experiment: str = Field(min_length=1, max_length=256)
    name: str = Field(min_length=1, max_length=256)
    start_time: float
    parent_id: str | None = None
    git_commit: str | None = None
    environment: dict[str, Any] = Field(default_factory=dict)
    status: str = "RUNNING"
    end_time: float | None = None


class CreatedOut(BaseModel):
    """The id of what was created (or already existed: creating is idempotent)."""

    id: str


class RunOut(BaseModel):
    """A run as stored (`RunRecord.to_dict()`): `metrics` are the latest values."""

    id: str
    experiment: str
    name: str
    status: str
    start_time: float
    end_time: float | None
    parent_id: str | None
    git_commit: str | None
    environment: dict[str, Any]
    params: dict[str, str]
    metrics: dict[str, Number]
    tags: dict[str, str]
    artifacts: dict[str, str] = Field(description="artifact path -> object id")
    datasets: list[str] = Field(description="dataset versions used, as NAME@vN")
    duration: float | None


class RunPage(BaseModel):
    """One page of a search; `next_offset` is the `offset` of the next page, null at the end."""

    runs: list[RunOut]
    next_offset: int | None


class Refusal(BaseModel):
    """A param change the store refused (params are immutable); the rest was written."""

    run_id: str
    message: str


class BatchesOut(BaseModel):
    """What a batch upload did: batches received (retries count, but apply once)."""

    received: int
    refused: list[Refusal]


class MetricSeriesOut(BaseModel):
    """The points of one metric, sorted by step; three columns of one length."""

    key: str
    steps: list[int]
    values: list[Number]
    timestamps: list[float]


class ObjectOut(BaseModel):
    """A stored object: its BLAKE3 id (64 hex) and size in bytes."""

    object_id: str
    size: int


class ModelSummaryOut(BaseModel):
    """A registered model: its latest version and its aliases (alias -> version)."""

    name: str
    latest_version: int | None
    aliases: dict[str, int]


class ModelVersionOut(BaseModel):
    """A model version: the stored package, the run that made it, its metrics."""

    model_name: str
    version: int
    package_id: str
    run_id: str | None
    created_at: float
    metrics: dict[str, Number]
    aliases: list[str]


class AuditEventOut(BaseModel):
    """A registration or alias change: who, when, from which version to which, why."""

    id: int
    timestamp: float
    actor: str
    action: str
    model_name: str
    alias: str | None
    from_version: int | None
    to_version: int | None
    reason: str
    evidence: dict[str, Any]


class AliasIn(BaseModel):
    """Point an alias at a version; `reason` and `actor` go into the audit log."""

    version: int = Field(ge=1)
    reason: str = ""
    actor: str | None = Field(None, description="who asks (default: 'api')")


class DatasetVersionOut(BaseModel):
    """A dataset version: hash, size (bytes), rows (tabular files only), schema."""

    id: int
    dataset: str
    version: int
    ref: str
    object_id: str
    source: str
    size: int
    rows: int | None
    schema_: dict[str, Any] = Field(validation_alias="schema", serialization_alias="schema")
    created_at: float
    kind: str
    files: int


class DatasetOut(BaseModel):
    """A dataset: its number of versions and the latest one."""

    name: str
    versions: int
    latest: DatasetVersionOut


class AlertOut(BaseModel):
    """A stored alert (drift, performance ...) of a model."""

    id: int
    timestamp: float
    model_name: str
    kind: str
    message: str
    details: dict[str, Any]


class TrafficOut(BaseModel):
    """Predictions one model version served, how many got labels, first and last time."""

    version: int
    predictions: int
    labeled: int
    first: float
    last: float


class ModelMonitoringOut(BaseModel):
    """A model's monitoring history: its alerts (newest first) and traffic per version."""

    model_name: str
    alerts: list[AlertOut]
    traffic: list[TrafficOut]


#: The documented body of `POST /api/batches` (sent gzip-compressed by clients).
BATCHES_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["run_id"],
                    "properties": {
                        "id": {"type": "string", "description": "32 hex; applied at most once"},
                        "run_id": {"type": "string"},
                        "metrics": {
                            "type": "object",
                            "description": "key -> {steps: [int], values: [number or "
                            "'NaN'/'Infinity'/'-Infinity'], timestamps: [seconds]}",
                        },
                        "params": {"type": "object", "additionalProperties": {"type": "string"}},
                        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                        "artifacts": {
                            "type": "object",
                            "description": "path -> [object id, size in bytes]; upload first",
                        },
                        "status": {"type": "string", "nullable": True},
                        "end_time": {"type": "number", "nullable": True},
                    },
                },
            }
        }
    },
}
