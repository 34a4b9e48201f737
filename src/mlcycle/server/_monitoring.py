"""Monitoring routes: alerts, monitoring history, labels, the loop's report and decisions."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from mlcycle.core import InputError, NotFound
from mlcycle.monitoring import AlertRecord, list_alerts
from mlcycle.server._encode import json_safe
from mlcycle.server._schemas import AlertOut, ModelMonitoringOut
from mlcycle.serving import scan_inference_log
from mlcycle.store import Workspace
from mlcycle.store.schema import LabelRow


def _alert(a: AlertRecord) -> dict[str, Any]:
    return {
        "id": a.id,
        "timestamp": a.timestamp,
        "model_name": a.model_name,
        "kind": a.kind,
        "message": a.message,
        "details": json_safe(dict(a.details)),
    }


def traffic(ws: Workspace, model: str) -> list[dict[str, Any]]:
    """Per version of `model`: predictions logged, how many have labels, first and last time.

    Streams the inference log's Parquet parts (three columns, one part at a
    time); the labeled ids are read from the labels table once.
    """
    with ws.db.session() as s:
        labeled = set(s.scalars(select(LabelRow.prediction_id)))
    per: dict[int, dict[str, Any]] = {}
    columns = ["model_version", "prediction_id", "timestamp"]
    for part in scan_inference_log(ws, model_name=model, columns=columns):
        for key, rows in part.groupby("model_version"):
            version = int(str(key))
            new = dict(version=version, predictions=0, labeled=0, first=None, last=None)
            entry = per.setdefault(version, new)
            entry["predictions"] += len(rows)
            entry["labeled"] += int(rows["prediction_id"].isin(labeled).sum())
            lo, hi = float(rows["timestamp"].min()), float(rows["timestamp"].max())
            entry["first"] = lo if entry["first"] is None else min(entry["first"], lo)
            entry["last"] = hi if entry["last"] is None else max(entry["last"], hi)
    return [per[v] for v in sorted(per)]


class LabelsIn(BaseModel):
    """Ground truth for logged predictions: `ids[i]` is labeled `values[i]`.

    Ids are prediction ids (`<request_id>-<row>`) or request ids of one-row requests.
    """

    ids: list[str] = Field(max_length=100_000)
    values: list[Any] = Field(max_length=100_000)


def monitoring_router(ws: Workspace) -> APIRouter:
    """The monitoring routes over workspace `ws`."""
    router = APIRouter(prefix="/api", tags=["monitoring"])

    @router.get("/alerts", summary="List alerts", response_model=list[AlertOut])
    def alerts(
        model: Annotated[str | None, Query(description="only this model")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> list[dict[str, Any]]:
        """Stored alerts (drift, performance ...), newest first."""
        return [_alert(a) for a in list_alerts(ws, model, limit)]

    @router.get(
        "/models/{name}/monitoring",
        summary="A model's monitoring history",
        response_model=ModelMonitoringOut,
    )
    def model_monitoring(
        name: str, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
    ) -> dict[str, Any]:
        """The model's alerts (newest first, at most `limit`) and its traffic per version."""
        return {
            "model_name": name,
            "alerts": [_alert(a) for a in list_alerts(ws, name, limit)],
            "traffic": traffic(ws, name),
        }

    @router.post("/labels", summary="Add labels (ground truth) to logged predictions")
    def add_labels_route(body: LabelsIn) -> dict[str, Any]:
        """Join labels to the inference log; unknown ids are counted (400 if all are)."""
        from mlcycle.loop import add_labels

        added = add_labels(ws, body.ids, body.values)
        if added.matched == 0 and added.unknown:
            raise InputError(f"none of the {added.unknown} ids is in the inference log")
        return added.to_dict()

    @router.get("/loop/history", summary="The loop controller's decisions")
    def loop_history_route(
        model: Annotated[str | None, Query(description="only this model")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    ) -> list[dict[str, Any]]:
        """Decisions of `mlcycle loop run`, newest first, with their evidence."""
        from mlcycle.loop import loop_history

        return [json_safe(d.to_dict()) for d in loop_history(ws, model, limit)]

    @router.get("/loop/report", summary="The loop's latest report")
    def loop_report() -> Any:
        """`reports/loop-report.json` of the last `mlcycle loop` (windows, drift, gates).

        404 if the loop has not run in this workspace.
        """
        path = ws.reports_dir / "loop-report.json"
        if not path.is_file():
            raise NotFound("no loop report yet: run 'mlcycle loop' first")
        return json.loads(path.read_text(encoding="utf-8"))

    return router
