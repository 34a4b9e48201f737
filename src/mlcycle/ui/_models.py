"""The models pages: registered models, versions, aliases, promotion history and lineage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlcycle.core import ModelNotFound
from mlcycle.registry import AuditEvent, ModelVersion, audit_log, list_model_versions, list_models
from mlcycle.store import Workspace

HISTORY_LIMIT = 200


@dataclass(frozen=True)
class ModelDetail:
    """Everything `model.html` shows about one registered model.

    `lineage` is the upstream tree of version `selected` as nested dicts
    (see :meth:`mlcycle.pipeline.LineageNode.to_dict`).
    """

    name: str
    versions: list[ModelVersion]
    aliases: dict[str, int]
    history: list[AuditEvent]
    selected: int
    lineage: dict[str, Any]


def models_overview(ws: Workspace) -> list[dict[str, Any]]:
    """Every registered model: name, latest version and aliases (`{alias: version}`)."""
    return list_models(ws)


def _default_version(versions: list[ModelVersion]) -> int:
    """The version to show the lineage of: the `production` one if any, else the newest."""
    for v in versions:
        if "production" in v.aliases:
            return v.version
    return versions[0].version


def model_detail(ws: Workspace, name: str, version: int | None = None) -> ModelDetail:
    """Versions (newest first), aliases, history (newest first) and one version's lineage.

    Raises:
        ModelNotFound: if the model, or `version` of it, does not exist.
    """
    from mlcycle.pipeline import lineage_of_model

    versions = list_model_versions(ws, name)
    if not versions:
        raise ModelNotFound(f"Model '{name}' does not exist")
    selected = version if version is not None else _default_version(versions)
    if selected not in {v.version for v in versions}:
        raise ModelNotFound(f"Model '{name}' has no version {selected}")
    aliases = {a: v.version for v in versions for a in v.aliases}
    return ModelDetail(
        name,
        versions,
        dict(sorted(aliases.items())),
        audit_log(ws, name, HISTORY_LIMIT),
        selected,
        lineage_of_model(ws, f"{name}@{selected}").to_dict(),
    )
