"""The model registry: registered models, versions, aliases and the audit log.

Every alias change writes an audit event (who, when, from, to, why, with
evidence) in the same transaction as the change, so the history can
never disagree with the state.
"""

from __future__ import annotations

import getpass
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mlcycle.core import InputError, ModelNotFound, now
from mlcycle.store import Workspace
from mlcycle.store.schema import AliasRow, AuditEventRow, ModelVersionRow, RegisteredModelRow


@dataclass(frozen=True)
class ModelVersion:
    """One registered model version: its package id, source run and metrics."""

    model_name: str
    version: int
    package_id: str
    run_id: str | None
    created_at: float
    metrics: dict[str, float]
    aliases: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {**self.__dict__, "aliases": list(self.aliases)}


@dataclass(frozen=True)
class AuditEvent:
    """An audit record of an alias change or registration."""

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

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return dict(self.__dict__)


def default_actor() -> str:
    """The OS user name, the actor of changes made by hand."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _aliases_of(s: Session, name: str) -> dict[int, tuple[str, ...]]:
    out: dict[int, tuple[str, ...]] = {}
    for alias, version in s.execute(
        select(AliasRow.alias, AliasRow.version).filter_by(model_name=name)
    ):
        out[version] = (*out.get(version, ()), alias)
    return out


def _version(row: ModelVersionRow, aliases: Mapping[int, tuple[str, ...]]) -> ModelVersion:
    return ModelVersion(
        row.model_name,
        row.version,
        row.package_id,
        row.run_id,
        row.created_at,
        {k: float(v) for k, v in row.metrics.items()},  # "NaN"/"Infinity" back to floats
        aliases.get(row.version, ()),
    )


def register_model_version(
    ws: Workspace,
    name: str,
    package_id: str,
    *,
    run_id: str | None = None,
    metrics: Mapping[str, float] | None = None,
    actor: str | None = None,
) -> ModelVersion:
    """Register a stored package as the next version of model `name` (created if new)."""
    with ws.db.session() as s:
        if s.get(RegisteredModelRow, name) is None:
            s.add(RegisteredModelRow(name=name, created_at=now(), description=""))
            s.flush()
        latest = s.scalar(select(func.max(ModelVersionRow.version)).filter_by(model_name=name))
        row = ModelVersionRow(
            model_name=name,
            version=(latest or 0) + 1,
            package_id=package_id,
            run_id=run_id,
            created_at=now(),
            # JSON has no NaN or infinities (PostgreSQL refuses them): stored as text
            metrics={
                k: v if math.isfinite(v) else repr(float(v)) for k, v in (metrics or {}).items()
            },
        )
        s.add(row)
        s.add(_audit(name, "register", None, None, row.version, "registered", {}, actor))
        return _version(row, {})


def _audit(
    name: str,
    action: str,
    alias: str | None,
    old: int | None,
    new: int | None,
    reason: str,
    evidence: Mapping[str, Any],
    actor: str | None,
) -> AuditEventRow:
    return AuditEventRow(
        timestamp=now(),
        actor=actor or default_actor(),
        action=action,
        model_name=name,
        alias=alias,
        from_version=old,
        to_version=new,
        reason=reason,
        evidence=dict(evidence),
    )


def set_alias(
    ws: Workspace,
    name: str,
    alias: str,
    version: int,
    *,
    reason: str = "",
    evidence: Mapping[str, Any] | None = None,
    actor: str | None = None,
) -> AuditEvent:
    """Point `alias` of model `name` at `version`, recording an audit event.

    Raises:
        ModelNotFound: if the model or version does not exist.
        InputError: if the alias is not a valid name (letters, digits, `-`, `_`).
    """
    _check_alias_name(alias)
    with ws.db.session() as s:
        _require_version(s, name, version)
        row = s.get(AliasRow, (name, alias))
        old = row.version if row else None
        if row is None:
            s.add(AliasRow(model_name=name, alias=alias, version=version))
        else:
            row.version = version
        event = _audit(name, "set_alias", alias, old, version, reason, evidence or {}, actor)
        s.add(event)
        s.flush()
        return _event(event)


def move_alias_if(
    ws: Workspace,
    name: str,
    alias: str,
    *,
    expected: int,
    version: int,
    reason: str,
    evidence: Mapping[str, Any] | None = None,
    actor: str | None = None,
) -> AuditEvent | None:
    """Compare-and-set: point `alias` at `version` only if it still points at `expected`.

    One conditional UPDATE, so when several server processes try the same
    move (e.g. an automatic rollback) exactly one wins and records the
    audit event; the others change nothing.

    Returns:
        The audit event, or None if the alias did not point at `expected`.

    Raises:
        ModelNotFound: if the model or `version` does not exist.
        InputError: if the alias is not a valid name.
    """
    _check_alias_name(alias)
    with ws.db.session() as s:
        _require_version(s, name, version)
        moved = s.execute(
            update(AliasRow)
            .where(AliasRow.model_name == name, AliasRow.alias == alias)
            .where(AliasRow.version == expected)
            .values(version=version)
        )
        if getattr(moved, "rowcount", 0) != 1:
            return None
        event = _audit(name, "set_alias", alias, expected, version, reason, evidence or {}, actor)
        s.add(event)
        s.flush()
        return _event(event)


def _check_alias_name(alias: str) -> None:
    if not alias.replace("-", "").replace("_", "").isalnum() or alias.isdigit():
        raise InputError(f"Alias {alias!r} must be a name of letters, digits, '-' or '_'")


def _require_version(s: Session, name: str, version: int) -> None:
    if s.get(ModelVersionRow, (name, version)) is None:
        raise ModelNotFound(f"Model '{name}' has no version {version}")


def _event(r: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        r.id,
        r.timestamp,
        r.actor,
        r.action,
        r.model_name,
        r.alias,
        r.from_version,
        r.to_version,
        r.reason,
        r.evidence,
    )


def alias_version(ws: Workspace, name: str, alias: str) -> int:
    """Return the version `alias` points at.

    Raises:
        ModelNotFound: if the model or alias does not exist.
    """
    with ws.db.session() as s:
        row = s.get(AliasRow, (name, alias))
        if row is None:
            known = s.get(RegisteredModelRow, name) is not None
            what = f"has no alias '{alias}'" if known else "does not exist"
            raise ModelNotFound(f"Model '{name}' {what}")
        return row.version


def get_model_version(ws: Workspace, name: str, version: int) -> ModelVersion:
    """Return version `version` of model `name`.

    Raises:
        ModelNotFound: if it does not exist.
    """
    with ws.db.session() as s:
        row = s.get(ModelVersionRow, (name, version))
        if row is None:
            raise ModelNotFound(f"Model '{name}' has no version {version}")
        return _version(row, _aliases_of(s, name))


def resolve(ws: Workspace, ref: str) -> ModelVersion:
    """Resolve `NAME@ALIAS`, `NAME@VERSION` or `NAME` (latest version) to a model version.

    Raises:
        ModelNotFound: if the model, alias or version does not exist.
    """
    name, _, selector = ref.partition("@")
    if selector.isdigit():
        return get_model_version(ws, name, int(selector))
    if selector:
        return get_model_version(ws, name, alias_version(ws, name, selector))
    versions = list_model_versions(ws, name)
    if not versions:
        raise ModelNotFound(f"Model '{name}' does not exist")
    return versions[0]


def list_model_versions(ws: Workspace, name: str) -> list[ModelVersion]:
    """Return the versions of model `name`, newest first (empty if none)."""
    with ws.db.session() as s:
        rows = s.scalars(
            select(ModelVersionRow)
            .filter_by(model_name=name)
            .order_by(ModelVersionRow.version.desc())
        ).all()
        aliases = _aliases_of(s, name)
        return [_version(r, aliases) for r in rows]


def list_models(ws: Workspace) -> list[dict[str, Any]]:
    """Return every registered model with its latest version and aliases."""
    with ws.db.session() as s:
        names = s.scalars(select(RegisteredModelRow.name).order_by(RegisteredModelRow.name)).all()
        out = []
        for name in names:
            latest = s.scalar(select(func.max(ModelVersionRow.version)).filter_by(model_name=name))
            aliases = {a: v for v, als in _aliases_of(s, name).items() for a in als}
            out.append({"name": name, "latest_version": latest, "aliases": aliases})
        return out


def audit_log(ws: Workspace, name: str | None = None, limit: int = 100) -> list[AuditEvent]:
    """Return audit events, newest first, optionally of one model."""
    query = select(AuditEventRow).order_by(AuditEventRow.id.desc()).limit(limit)
    if name:
        query = query.filter_by(model_name=name)
    with ws.db.session() as s:
        return [_event(r) for r in s.scalars(query)]
