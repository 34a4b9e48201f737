"""Alerts: logged, stored in the metadata database and optionally POSTed to a webhook."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlcycle.core import MlcycleError, now
from mlcycle.monitoring._jsonsafe import json_safe

if TYPE_CHECKING:
    from mlcycle.store import Workspace

logger = logging.getLogger("mlcycle.alerts")


@dataclass(frozen=True)
class Alert:
    """Something a person should look at.

    Attributes:
        model_name: the registered model concerned.
        kind: short machine-readable kind, e.g. ``"drift"`` or ``"performance"``.
        message: one human-readable line.
        details: JSON-safe context (numbers, feature names ...).
    """

    model_name: str
    kind: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the alert as a JSON-safe dict."""
        out: dict[str, Any] = json_safe(
            {"model_name": self.model_name, "kind": self.kind, "message": self.message}
            | {"details": dict(self.details)}
        )
        return out


@dataclass(frozen=True)
class AlertRecord:
    """A stored alert, as :func:`list_alerts` returns it (never changes after return).

    Attributes:
        id: database id (increasing).
        timestamp: when it was raised, seconds since the epoch (UTC).
        model_name, kind, message, details: as in :class:`Alert`.
    """

    id: int
    timestamp: float
    model_name: str
    kind: str
    message: str
    details: Mapping[str, Any]


def post_webhook(url: str, alert: Alert, *, timeout: float = 5.0) -> None:
    """POST `alert` to a Slack-compatible incoming webhook.

    Body: ``{"text": "[mlcycle] <kind> alert for <model>: <message>",
    "mlcycle": {model_name, kind, message, details}}``; Slack shows
    ``text`` and ignores the rest.

    Args:
        url: the webhook URL.
        alert: what to send.
        timeout: seconds for connect, read and write.

    Raises:
        MlcycleError: on a network error or a non-2xx answer; the message names `url`.
    """
    import httpx

    text = f"[mlcycle] {alert.kind} alert for {alert.model_name}: {alert.message}"
    try:
        response = httpx.post(url, json={"text": text, "mlcycle": alert.to_dict()}, timeout=timeout)
        response.raise_for_status()
    except httpx.HTTPStatusError as err:
        raise MlcycleError(f"webhook {url} answered HTTP {err.response.status_code}") from None
    except httpx.HTTPError as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise MlcycleError(f"webhook {url} failed: {reason}") from None


def raise_alert(workspace: Workspace, alert: Alert, *, webhook_url: str | None = None) -> bool:
    """Log, store and (optionally) send an alert.

    The alert is logged as a warning on the ``mlcycle.alerts`` logger and
    stored as an ``AlertRow`` in one transaction before any network call,
    so a failing webhook never loses it.

    Args:
        workspace: where to store the alert.
        alert: what happened.
        webhook_url: a Slack-compatible webhook to POST to, if any.

    Returns:
        False if the webhook failed (logged as a warning), else True.

    Raises:
        MlcycleError: if the database cannot be written.
    """
    from mlcycle.store import schema

    AlertRow = schema.AlertRow

    logger.warning("%s alert for %s: %s", alert.kind, alert.model_name, alert.message)
    row = AlertRow(
        timestamp=now(),
        model_name=alert.model_name,
        kind=alert.kind,
        message=alert.message,
        details=json_safe(dict(alert.details)),
    )
    with workspace.db.session() as session:
        session.add(row)
    if webhook_url is None:
        return True
    try:
        post_webhook(webhook_url, alert)
    except MlcycleError as err:
        logger.warning("alert not delivered: %s", err)
        return False
    return True


def list_alerts(
    workspace: Workspace, model_name: str | None = None, limit: int = 100
) -> list[AlertRecord]:
    """Return stored alerts, newest first.

    Args:
        workspace: where the alerts are stored.
        model_name: only this model's alerts, if given.
        limit: at most this many records.

    Returns:
        :class:`AlertRecord` objects ordered by timestamp then id, descending.
    """
    from sqlalchemy import select

    from mlcycle.store import schema

    AlertRow = schema.AlertRow

    query = select(AlertRow).order_by(AlertRow.timestamp.desc(), AlertRow.id.desc()).limit(limit)
    if model_name is not None:
        query = query.where(AlertRow.model_name == model_name)
    with workspace.db.session() as session:
        rows = session.scalars(query).all()
        return [
            AlertRecord(r.id, r.timestamp, r.model_name, r.kind, r.message, dict(r.details or {}))
            for r in rows
        ]
