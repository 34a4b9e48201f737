"""Monitoring routes: alerts, a model's monitoring history, the loop's latest report."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from mlcycle.core import NotFound
from mlcycle.monitoring import AlertRecord, list_alerts
from mlcycle.server._encode import json_safe
from mlcycle.server._schemas import AlertOut, ModelMonitoringOut
from mlcycle.store import Workspace
from mlcycle.store.schema import InferenceLogRow, LabelRow


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
    """Per version of `model`: predictions logged, how many have labels, first and last time."""
    log = InferenceLogRow
    query = (
        select(
            log.model_version,
            func.count(log.id),
            func.count(LabelRow.prediction_id),
            func.min(log.timestamp),
            func.max(log.timestamp),
        )
        .outerjoin(LabelRow, LabelRow.prediction_id == log.id)
        .where(log.model_name == model)
        .group_by(log.model_version)
        .order_by(log.model_version)
    )
    with ws.db.session() as s:
        return [
            {"version": v, "predictions": n, "labeled": k, "first": lo, "last": hi}
            for v, n, k, lo, hi in s.execute(query)
        ]


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
