"""Dataset routes: dataset names and their versions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mlcycle.core import DatasetNotFound
from mlcycle.data import get_dataset_version, list_dataset_versions
from mlcycle.server._encode import json_safe
from mlcycle.server._schemas import DatasetOut, DatasetVersionOut
from mlcycle.store import Workspace


def datasets_router(ws: Workspace) -> APIRouter:
    """The dataset routes over workspace `ws`."""
    router = APIRouter(prefix="/api", tags=["datasets"])

    @router.get("/datasets", summary="List datasets", response_model=list[DatasetOut])
    def datasets() -> list[dict[str, Any]]:
        """Every dataset, by name, with its number of versions and its latest version."""
        by_name: dict[str, list[Any]] = {}
        for v in list_dataset_versions(ws):  # newest first
            by_name.setdefault(v.dataset, []).append(v)
        return [
            {"name": name, "versions": len(vs), "latest": json_safe(vs[0].to_dict())}
            for name, vs in sorted(by_name.items())
        ]

    @router.get(
        "/datasets/{name}/versions",
        summary="List the versions of a dataset",
        response_model=list[DatasetVersionOut],
    )
    def versions(name: str) -> list[Any]:
        """The versions of dataset `name`, newest first; 404 if it has none."""
        found = list_dataset_versions(ws, name)
        if not found:
            raise DatasetNotFound(f"Dataset '{name}' does not exist")
        return [json_safe(v.to_dict()) for v in found]

    @router.get(
        "/datasets/{name}/versions/{version}",
        summary="Get a dataset version",
        response_model=DatasetVersionOut,
    )
    def version(name: str, version: int) -> Any:
        """Version `version` of dataset `name`; 404 if it does not exist."""
        return json_safe(get_dataset_version(ws, f"{name}@v{version}").to_dict())

    return router
