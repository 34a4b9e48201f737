"""Alert channels against real servers: aiosmtpd for SMTP, http.server for the webhook,
prometheus_client's parser for the gauges."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from prometheus_client.parser import text_string_to_metric_families

from mlcycle.core import ConfigError, MlcycleError, parse_config
from mlcycle.monitoring import (
    Alert,
    AlertRecord,
    EmailChannel,
    MonitoringGauges,
    PrometheusChannel,
    Retrying,
    WebhookChannel,
    channels_from_config,
    post_webhook,
)

ALERT = Alert(
    "bikes",
    "drift",
    "drift share 0.60 >= 0.50",
    {"drift_share": 0.6, "feature_scores": {"temp": 0.4}, "live": {"mae": 51.5}, "x": float("nan")},
)
RECORD = AlertRecord(7, 0.0, "bikes", "drift", ALERT.message, {}, "drift:", "reports/drift.html")


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.server.bodies.append(self.rfile.read(length))  # type: ignore[attr-defined]
        statuses = self.server.statuses  # type: ignore[attr-defined]
        self.send_response(statuses.pop(0) if statuses else 200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[Any]:
    """A real HTTP server recording POST bodies; answers `statuses` in order, then 200."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.bodies, server.statuses = [], []  # type: ignore[attr-defined]
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hook"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


def _login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"bot", b"s3cret")
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535


@pytest.fixture
def smtp() -> Iterator[Any]:
    """A real aiosmtpd SMTP server on a free port; AUTH (bot / s3cret) allowed without TLS."""
    inbox = _Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=_login,
        auth_require_tls=False,
    )
    controller.start()
    controller.inbox = inbox  # type: ignore[attr-defined]
    yield controller
    controller.stop()


def test_webhook_receives_slack_json_with_report_link(webhook: Any) -> None:
    WebhookChannel(webhook.url).send(ALERT, RECORD)
    (body,) = webhook.bodies
    payload = json.loads(body)
    assert payload["text"].startswith("[mlcycle] drift alert for bikes: drift share 0.60")
    assert "reports/drift.html" in payload["text"]
    section, context = payload["blocks"]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert context["elements"][0]["text"] == "<reports/drift.html|Open the report>"
    assert payload["mlcycle"]["details"]["x"] is None and payload["mlcycle"]["report"]


def test_webhook_http_error_names_url_and_retries_recover(webhook: Any) -> None:
    webhook.statuses.extend([500, 503])
    with pytest.raises(MlcycleError, match=re.escape(webhook.url) + " answered HTTP 500"):
        post_webhook(webhook.url, ALERT)
    Retrying(WebhookChannel(webhook.url), attempts=3, backoff=0.01).send(ALERT, RECORD)
    assert len(webhook.bodies) == 3  # the 500, the 503, then the delivery


def test_retrying_gives_up_with_the_last_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    channel = Retrying(WebhookChannel(url, timeout=2.0), attempts=2, backoff=0.01)
    with pytest.raises(MlcycleError, match=re.escape(url)):
        channel.send(ALERT, RECORD)
    assert channel.name == "webhook"


def test_email_reaches_a_real_smtp_server_with_login(smtp: Any) -> None:
    config = parse_config(
        {
            "alerts": {
                "log": False,
                "prometheus": False,
                "email": {
                    "host": "127.0.0.1",
                    "port": smtp.port,
                    "sender": "mlcycle@example.org",
                    "to": ["ops@example.org", "ml@example.org"],
                    "security": "none",
                    "username": "bot",
                    "password_env": "MLCYCLE_TEST_SMTP_PASSWORD",
                },
            }
        }
    )
    (channel,) = channels_from_config(config.alerts, {"MLCYCLE_TEST_SMTP_PASSWORD": "s3cret"})
    channel.send(ALERT, RECORD)
    ((recipients, message),) = smtp.inbox.messages
    assert recipients == ["ops@example.org", "ml@example.org"]
    assert message["Subject"] == "[mlcycle] drift alert for bikes: drift share 0.60 >= 0.50"
    body = message.get_payload()
    assert "Report: reports/drift.html" in body and "s3cret" not in body


def test_email_wrong_password_and_closed_port_raise_without_secrets(smtp: Any) -> None:
    channel = EmailChannel(
        "127.0.0.1",
        smtp.port,
        "a@x.org",
        ["b@x.org"],
        security="none",
        username="bot",
        password="pw-XYZ123",
    )
    with pytest.raises(MlcycleError, match=re.escape(f"SMTP 127.0.0.1:{smtp.port} failed")) as info:
        channel.send(ALERT, RECORD)
    assert "535" in str(info.value) and "pw-XYZ123" not in str(info.value)
    closed = EmailChannel("127.0.0.1", free_port(), "a@x.org", ["b@x.org"], security="none")
    with pytest.raises(MlcycleError, match=re.escape("SMTP 127.0.0.1")):
        closed.send(ALERT, RECORD)
    assert smtp.inbox.messages == []


def test_missing_password_variable_names_the_key() -> None:
    email = {"host": "h", "sender": "a@x.org", "to": ["b@x.org"], "password_env": "NOPE_PW"}
    config = parse_config({"alerts": {"email": email}})
    with pytest.raises(ConfigError, match=r"alerts\.email\.password_env.*NOPE_PW"):
        channels_from_config(config.alerts, {})
    with pytest.raises(ConfigError, match=r"alerts\.email\.to"):
        parse_config({"alerts": {"email": {**email, "to": []}}})


def _samples(gauges: MonitoringGauges) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = gauges.render()[0].decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_prometheus_gauges_parse() -> None:
    gauges = MonitoringGauges()
    PrometheusChannel(gauges).send(ALERT, RECORD)
    gauges.observe_drift("bikes", {"share": 0.25, "features": [{"feature": "hum", "psi": 0.02}]})
    samples = _samples(gauges)
    assert samples[("mlcycle_drift_share", (("model", "bikes"),))] == 0.25
    assert (
        samples[("mlcycle_feature_drift_score", (("feature", "temp"), ("model", "bikes")))] == 0.4
    )
    assert (
        samples[("mlcycle_feature_drift_score", (("feature", "hum"), ("model", "bikes")))] == 0.02
    )
    assert samples[("mlcycle_live_metric", (("metric", "mae"), ("model", "bikes")))] == 51.5
    assert samples[("mlcycle_alerts_total", (("kind", "drift"), ("model", "bikes")))] == 1.0
