"""Alert channels: the log, a Slack-compatible webhook, e-mail over SMTP, Prometheus gauges.

A channel is anything with a ``name`` and ``send(alert, record)`` (see
:class:`AlertChannel`). :func:`~mlcycle.monitoring.raise_alert` stores the
alert first, then calls each channel; a failing channel is logged and
recorded on the alert, never raised to the caller. :class:`Retrying` wraps
a network channel with exponential backoff. ``httpx``, ``smtplib`` and
``prometheus_client`` are imported on first use.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

from mlcycle.core import ConfigError, MlcycleError

if TYPE_CHECKING:
    from mlcycle.core import AlertsConfig
    from mlcycle.core._config import EmailConfig
    from mlcycle.monitoring._alerts import Alert, AlertRecord
    from mlcycle.monitoring._gauges import MonitoringGauges

logger = logging.getLogger("mlcycle.alerts")


class AlertChannel(Protocol):
    """Where an alert is delivered.

    Contract: ``send`` delivers one stored alert (``record`` holds its id,
    time and report link) or raises :class:`~mlcycle.core.MlcycleError`
    with a one-line message that names the destination and holds no
    secret. It may be called from several threads; it must not retry
    (wrap it in :class:`Retrying`) and must not store anything.
    """

    name: str

    def send(self, alert: Alert, record: AlertRecord) -> None:
        """Deliver `alert` (stored as `record`) or raise MlcycleError."""


def headline(alert: Alert) -> str:
    """One line that names the kind, the model and what happened."""
    return f"[mlcycle] {alert.kind} alert for {alert.model_name}: {alert.message}"


class LogChannel:
    """Logs each alert as a WARNING on the ``mlcycle.alerts`` logger, with its report link."""

    name = "log"

    def send(self, alert: Alert, record: AlertRecord) -> None:
        """Log `alert`; never fails."""
        logger.warning(
            "%s (alert %d, report: %s)", headline(alert), record.id, record.report or "-"
        )


class WebhookChannel:
    """POSTs each alert to a Slack-compatible incoming webhook (see :func:`slack_payload`).

    Args:
        url: the webhook URL (Slack, Mattermost, Rocket.Chat and Teams'
            Slack-compatible endpoints accept the same body).
        timeout: seconds for connect, read and write.
    """

    name = "webhook"

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout

    def send(self, alert: Alert, record: AlertRecord) -> None:
        """POST the alert; raise MlcycleError naming the URL on failure."""
        from mlcycle.monitoring._alerts import post_webhook

        post_webhook(self.url, alert, timeout=self.timeout, report=record.report)


class EmailChannel:
    """Mails each alert over SMTP with :mod:`smtplib` (plain text, report link in the body).

    ``security="starttls"`` upgrades the connection with STARTTLS (RFC 3207)
    and ``"ssl"`` connects with implicit TLS (RFC 8314), both verifying the
    server's certificate against the system's CAs; ``"none"`` sends in
    clear (local relays only). Login (RFC 4954 AUTH) happens only when
    `username` is set.

    Args:
        host: SMTP server host.
        port: SMTP server port.
        sender: the From address.
        to: the recipients (at least one).
        security: ``"starttls"``, ``"ssl"`` or ``"none"``.
        username: login name, if the server needs one.
        password: the password for `username` (read by the caller from the
            environment variable the config names; never logged).
        timeout: socket timeout in seconds.
    """

    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        to: Sequence[str],
        *,
        security: Literal["starttls", "ssl", "none"] = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not to:
            raise ConfigError("alerts.email.to: at least one recipient is needed")
        self.host, self.port, self.sender, self.to = host, port, sender, tuple(to)
        self.security, self.username, self.timeout = security, username, timeout
        self._password = password

    def message(self, alert: Alert, record: AlertRecord) -> Any:
        """The :class:`email.message.EmailMessage` sent for `alert`."""
        from email.message import EmailMessage

        msg = EmailMessage()
        msg["Subject"] = headline(alert)
        msg["From"], msg["To"] = self.sender, ", ".join(self.to)
        details = "\n".join(f"  {k}: {v}" for k, v in alert.details.items())
        msg.set_content(
            f"{alert.message}\n\nModel: {alert.model_name}\nKind: {alert.kind}\n"
            f"Alert id: {record.id}\nReport: {record.report or '-'}\n\nDetails:\n{details}\n"
        )
        return msg

    def send(self, alert: Alert, record: AlertRecord) -> None:
        """Send the mail; raise MlcycleError naming host and port on failure."""
        import smtplib

        try:
            with self._connect() as smtp:
                if self.username is not None:
                    smtp.login(self.username, self._password or "")
                smtp.send_message(self.message(alert, record))
        except (smtplib.SMTPException, OSError) as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise MlcycleError(f"SMTP {self.host}:{self.port} failed: {reason}") from None

    def _connect(self) -> Any:
        import smtplib
        import ssl

        if self.security == "ssl":
            context = ssl.create_default_context()
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        return smtp


class PrometheusChannel:
    """Counts alerts and sets the drift and live-metric gauges from the alert's details.

    Args:
        gauges: where to set them; default :func:`monitoring_gauges`, the
            process-wide set that ``mlcycle server`` serves at ``/metrics``.
    """

    name = "prometheus"

    def __init__(self, gauges: MonitoringGauges | None = None) -> None:
        from mlcycle.monitoring._gauges import monitoring_gauges

        self.gauges = gauges if gauges is not None else monitoring_gauges()

    def send(self, alert: Alert, record: AlertRecord) -> None:
        """Update the gauges; never fails."""
        self.gauges.observe_alert(alert)


class Retrying:
    """Wraps a channel: up to `attempts` tries, sleeping ``backoff * 2**i`` seconds between.

    Args:
        channel: the channel to wrap; its name is kept.
        attempts: tries in all (>= 1).
        backoff: seconds before the second try; doubled each time.
    """

    def __init__(self, channel: AlertChannel, *, attempts: int = 3, backoff: float = 0.5) -> None:
        if attempts < 1:
            raise ConfigError(f"alerts.attempts must be >= 1; got {attempts}")
        self.channel, self.attempts, self.backoff = channel, attempts, backoff
        self.name = channel.name

    def send(self, alert: Alert, record: AlertRecord) -> None:
        """Send through the wrapped channel; raise its last error when every try failed."""
        for i in range(self.attempts):
            try:
                return self.channel.send(alert, record)
            except MlcycleError as err:
                if i + 1 == self.attempts:
                    raise
                logger.info("%s try %d of %d failed: %s", self.name, i + 1, self.attempts, err)
                time.sleep(self.backoff * 2**i)


def channels_from_config(
    config: AlertsConfig, environ: Mapping[str, str], *, gauges: MonitoringGauges | None = None
) -> list[AlertChannel]:
    """Build the channels `config` asks for (entry points pass ``os.environ``).

    Args:
        config: the ``alerts`` section of ``mlcycle.yaml``.
        environ: where the SMTP password is looked up by the name in
            ``alerts.email.password_env``.
        gauges: for the Prometheus channel; default the process-wide set.

    Returns:
        Log, webhook, e-mail and Prometheus channels as configured; the
        webhook and e-mail ones wrapped in :class:`Retrying`.

    Raises:
        ConfigError: if ``alerts.email.password_env`` names an unset variable.
    """
    channels: list[AlertChannel] = [LogChannel()] if config.log else []
    if config.webhook_url:
        channels.append(Retrying(WebhookChannel(config.webhook_url), attempts=config.attempts))
    if config.email is not None:
        channels.append(Retrying(_email(config.email, environ), attempts=config.attempts))
    if config.prometheus:
        channels.append(PrometheusChannel(gauges))
    return channels


def _email(email: EmailConfig, environ: Mapping[str, str]) -> EmailChannel:
    password = None
    if email.password_env is not None:
        if email.password_env not in environ:
            raise ConfigError(
                f"alerts.email.password_env: environment variable {email.password_env!r} "
                "is not set; export it with the SMTP password"
            )
        password = environ[email.password_env]
    return EmailChannel(
        email.host,
        email.port,
        email.sender,
        email.to,
        security=email.security,
        username=email.username,
        password=password,
        timeout=email.timeout,
    )
