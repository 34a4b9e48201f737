"""Registry: registered models, versions, aliases, the promotion gate and the audit log."""

from __future__ import annotations

from mlcycle.registry._gate import GateDecision, gate, promote
from mlcycle.registry._registry import (
    AuditEvent,
    ModelVersion,
    alias_version,
    audit_log,
    default_actor,
    get_model_version,
    list_model_versions,
    list_models,
    move_alias_if,
    register_model_version,
    resolve,
    set_alias,
)

__all__ = [
    "AuditEvent",
    "GateDecision",
    "ModelVersion",
    "alias_version",
    "audit_log",
    "default_actor",
    "gate",
    "get_model_version",
    "list_model_versions",
    "list_models",
    "move_alias_if",
    "promote",
    "register_model_version",
    "resolve",
    "set_alias",
]
