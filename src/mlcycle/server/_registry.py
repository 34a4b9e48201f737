"""Registry routes: models, versions, aliases (read and move) and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from mlcycle.core import ModelNotFound
from mlcycle.registry import (
    audit_log,
    get_model_version,
    list_model_versions,
    list_models,
    resolve,
    set_alias,
)
from mlcycle.server._encode import json_safe
from mlcycle.server._schemas import AliasIn, AuditEventOut, ModelSummaryOut, ModelVersionOut
from mlcycle.store import Workspace

#: The actor recorded for alias changes made through the API without one.
API_ACTOR = "api"


def registry_router(ws: Workspace) -> APIRouter:
    """The registry routes over workspace `ws`."""
    router = APIRouter(prefix="/api", tags=["registry"])

    @router.get("/models", summary="List models", response_model=list[ModelSummaryOut])
    def models() -> list[dict[str, Any]]:
        """Every registered model with its latest version and aliases."""
        return list_models(ws)

    @router.get(
        "/models/{name}/versions",
        summary="List the versions of a model",
        response_model=list[ModelVersionOut],
    )
    def versions(name: str) -> list[Any]:
        """The versions of model `name`, newest first; 404 if it has none."""
        found = list_model_versions(ws, name)
        if not found:
            raise ModelNotFound(f"Model '{name}' does not exist")
        return [json_safe(v.to_dict()) for v in found]

    @router.get(
        "/models/{name}/versions/{version}",
        summary="Get a model version",
        response_model=ModelVersionOut,
    )
    def version(name: str, version: int) -> Any:
        """Version `version` of model `name`; 404 if it does not exist."""
        return json_safe(get_model_version(ws, name, version).to_dict())

    @router.get(
        "/models/{name}/aliases/{alias}",
        summary="Resolve an alias",
        response_model=ModelVersionOut,
    )
    def get_alias(name: str, alias: str) -> Any:
        """The version alias `alias` (e.g. production) of model `name` points at."""
        return json_safe(resolve(ws, f"{name}@{alias}").to_dict())

    @router.put(
        "/models/{name}/aliases/{alias}",
        summary="Point an alias at a version",
        response_model=AuditEventOut,
    )
    def put_alias(name: str, alias: str, body: AliasIn) -> Any:
        """Move alias `alias` of model `name` to `body.version`; returns the audit event.

        400 for an invalid alias name, 404 for an unknown model or version.
        """
        event = set_alias(
            ws, name, alias, body.version, reason=body.reason, actor=body.actor or API_ACTOR
        )
        return json_safe(event.to_dict())

    @router.get("/audit", summary="Read the audit log", response_model=list[AuditEventOut])
    def audit(
        model: Annotated[str | None, Query(description="only this model")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> list[Any]:
        """Registrations and alias changes (the promotion history), newest first."""
        return [json_safe(e.to_dict()) for e in audit_log(ws, model, limit)]

    return router
