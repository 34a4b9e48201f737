"""Alerts: stored in the metadata database, de-duplicated, then sent through channels.

One incident sends one alert: alerts with the same incident key (see
:meth:`Alert.incident_key`) for the same model within `cooldown_seconds`
of the last sent one are *suppressed*: not stored, not sent, logged at
INFO. The check reads the ``alerts`` table, so it holds across processes
and restarts (two processes racing within the same millisecond may both
send; the cool-down is a courtesy, not a lock). After the cool-down, an
incident that is still going on alerts again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from mlcycle.core import MlcycleError, now
from mlcycle.monitoring._channels import AlertChannel, LogChannel, WebhookChannel, headline
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
        details: JSON-safe context (numbers, feature names ...); a
            ``drifted_features`` list takes part in the incident key.
        dedup_key: the incident key, if the caller knows better than the default.
    """

    model_name: str
    kind: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)
    dedup_key: str | None = None

    def incident_key(self) -> str:
        """`dedup_key` if set, else ``kind`` plus the sorted ``drifted_features`` of `details`.

        E.g. ``"drift:hum,temp"``: the same features drifting again is the
        same incident; one more feature drifting is a new one.
        """
        if self.dedup_key is not None:
            return self.dedup_key
        features = self.details.get("drifted_features") or ()
        return f"{self.kind}:{','.join(sorted(str(f) for f in features))}"[:256]

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
        model_name, kind, message, details: as in :class:`Alert`; details
            gain ``delivery_errors`` ({channel: error}) when a channel failed.
        dedup_key: the incident key.
        report: path or URL of the report that explains the alert.
    """

    id: int
    timestamp: float
    model_name: str
    kind: str
    message: str
    details: Mapping[str, Any]
    dedup_key: str | None = None
    report: str | None = None


@dataclass(frozen=True)
class AlertOutcome:
    """What :func:`raise_alert` did.

    Attributes:
        record: the stored alert, or for a suppressed one the earlier alert
            of the same incident.
        suppressed: True if the alert fell within the cool-down and was not sent.
        errors: channel name -> one-line error, for channels that failed.
    """

    record: AlertRecord
    suppressed: bool = False
    errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def delivered(self) -> bool:
        """True if the alert was sent and no channel failed."""
        return not self.suppressed and not self.errors


def slack_payload(alert: Alert, report: str | None = None) -> dict[str, Any]:
    """The JSON body for a Slack-compatible incoming webhook.

    ``text`` is the notification fallback and ``blocks`` the Block Kit
    layout (a ``section`` in ``mrkdwn``, a ``context`` with the report
    link as ``<url|text>``), per https://api.slack.com/messaging/webhooks
    and https://api.slack.com/reference/block-kit/blocks. ``mlcycle``
    carries the alert for machines; Slack ignores unknown keys.
    """
    link = f"<{report}|Open the report>" if report else "no report"
    text = headline(alert) + (f" (report: {report})" if report else "")
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline(alert)}*"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": link}]},
        ],
        "mlcycle": alert.to_dict() | {"report": report},
    }


def post_webhook(
    url: str, alert: Alert, *, timeout: float = 5.0, report: str | None = None
) -> None:
    """POST `alert` to a Slack-compatible incoming webhook (body: :func:`slack_payload`).

    Args:
        url: the webhook URL.
        alert: what to send.
        timeout: seconds for connect, read and write.
        report: path or URL of the report, linked in the message.

    Raises:
        MlcycleError: on a network error or a non-2xx answer; the message names `url`.
    """
    import httpx

    try:
        response = httpx.post(url, json=slack_payload(alert, report), timeout=timeout)
        response.raise_for_status()
    except httpx.HTTPStatusError as err:
        raise MlcycleError(f"webhook {url} answered HTTP {err.response.status_code}") from None
    except httpx.HTTPError as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise MlcycleError(f"webhook {url} failed: {reason}") from None


def raise_alert(
    workspace: Workspace,
    alert: Alert,
    *,
    webhook_url: str | None = None,
    channels: Sequence[AlertChannel] | None = None,
    report: str | None = None,
    cooldown_seconds: float = 0.0,
    timestamp: float | None = None,
) -> AlertOutcome:
    """Store an alert and send it through `channels`, once per incident.

    The alert is stored as an ``AlertRow`` (with its incident key and
    report link) in one transaction before any channel runs, so a failing
    channel never loses it. Channel errors are logged as warnings and
    saved in the record's ``details["delivery_errors"]``; they are never raised.

    Args:
        workspace: where to store the alert.
        alert: what happened.
        webhook_url: shorthand for ``channels=[LogChannel(), WebhookChannel(url)]``.
        channels: where to send it; default the log (and `webhook_url`).
            :func:`channels_from_config` builds them from ``mlcycle.yaml``.
        report: path or URL of the report that explains it; stored and in every message.
        cooldown_seconds: suppress the alert if the same incident was sent
            within this many seconds; 0 sends every alert.
        timestamp: when it happened, seconds since the epoch; default now.

    Returns:
        The :class:`AlertOutcome`.

    Raises:
        MlcycleError: if the database cannot be read or written.
    """
    at = now() if timestamp is None else timestamp
    earlier = _recent(workspace, alert, at - cooldown_seconds) if cooldown_seconds > 0 else None
    if earlier is not None:
        logger.info("%s: suppressed, same incident as alert %d", headline(alert), earlier.id)
        return AlertOutcome(earlier, suppressed=True)
    record = _store(workspace, alert, at, report)
    if channels is None:
        channels = [LogChannel(), *([WebhookChannel(webhook_url)] if webhook_url else [])]
    errors = _send(channels, alert, record)
    if errors:
        record = _record_errors(workspace, record, errors)
    return AlertOutcome(record, errors=errors)


def _send(channels: Sequence[AlertChannel], alert: Alert, record: AlertRecord) -> dict[str, str]:
    errors = {}
    for channel in channels:
        try:
            channel.send(alert, record)
        except Exception as err:  # a broken (even buggy) channel must not stop the others
            errors[channel.name] = str(err).splitlines()[0] if str(err) else type(err).__name__
            logger.warning(
                "alert %d not delivered by %s: %s", record.id, channel.name, errors[channel.name]
            )
    return errors


def _to_record(row: Any) -> AlertRecord:
    return AlertRecord(
        row.id,
        row.timestamp,
        row.model_name,
        row.kind,
        row.message,
        dict(row.details or {}),
        row.dedup_key,
        row.report,
    )


def _recent(workspace: Workspace, alert: Alert, since: float) -> AlertRecord | None:
    from sqlalchemy import select

    from mlcycle.store.schema import AlertRow

    query = (
        select(AlertRow)
        .where(AlertRow.model_name == alert.model_name)
        .where(AlertRow.dedup_key == alert.incident_key())
        .where(AlertRow.timestamp > since)
        .order_by(AlertRow.timestamp.desc())
        .limit(1)
    )
    with workspace.db.session() as session:
        row = session.scalars(query).first()
        return None if row is None else _to_record(row)


def _store(workspace: Workspace, alert: Alert, at: float, report: str | None) -> AlertRecord:
    from mlcycle.store.schema import AlertRow

    row = AlertRow(
        timestamp=at,
        model_name=alert.model_name,
        kind=alert.kind,
        message=alert.message,
        details=json_safe(dict(alert.details)),
        dedup_key=alert.incident_key(),
        report=report,
    )
    with workspace.db.session() as session:
        session.add(row)
        session.flush()
        return _to_record(row)


def _record_errors(
    workspace: Workspace, record: AlertRecord, errors: dict[str, str]
) -> AlertRecord:
    from mlcycle.store.schema import AlertRow

    details = {**record.details, "delivery_errors": errors}
    with workspace.db.session() as session:
        row = session.get(AlertRow, record.id)
        if row is not None:
            row.details = details
    return replace(record, details=details)


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

    from mlcycle.store.schema import AlertRow

    query = select(AlertRow).order_by(AlertRow.timestamp.desc(), AlertRow.id.desc()).limit(limit)
    if model_name is not None:
        query = query.where(AlertRow.model_name == model_name)
    with workspace.db.session() as session:
        return [_to_record(r) for r in session.scalars(query).all()]
