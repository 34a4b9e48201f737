"""Alerts: stored in the workspace database and POSTed to a real local webhook."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlcycle.core import MlcycleError
from mlcycle.monitoring import Alert, list_alerts, post_webhook, raise_alert
from mlcycle.store import Workspace


class _Recorder(BaseHTTPRequestHandler):
    bodies: list[bytes]
    status = 200

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.server.bodies.append(self.rfile.read(length))  # type: ignore[attr-defined]
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.bodies = []  # type: ignore[attr-defined]
    server.status = 200  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def _url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/hook"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    with Workspace(tmp_path) as ws:
        yield ws


ALERT = Alert("bikes", "drift", "drift share 0.60 >= 0.50", {"share": 0.6, "psi": float("nan")})


def test_webhook_receives_slack_json(webhook: ThreadingHTTPServer) -> None:
    post_webhook(_url(webhook), ALERT)
    (body,) = webhook.bodies  # type: ignore[attr-defined]
    payload = json.loads(body)
    assert "drift share 0.60" in payload["text"] and "bikes" in payload["text"]
    assert payload["mlcycle"] == {
        "model_name": "bikes",
        "kind": "drift",
        "message": "drift share 0.60 >= 0.50",
        "details": {"share": 0.6, "psi": None},
    }


def test_webhook_http_error_names_url(webhook: ThreadingHTTPServer) -> None:
    webhook.status = 500  # type: ignore[attr-defined]
    with pytest.raises(MlcycleError, match=re.escape("127.0.0.1")) as info:
        post_webhook(_url(webhook), ALERT)
    assert "500" in str(info.value) and "\n" not in str(info.value)


def test_raise_alert_stores_and_posts(workspace: Workspace, webhook: ThreadingHTTPServer) -> None:
    assert raise_alert(workspace, ALERT, webhook_url=_url(webhook)) is True
    assert len(webhook.bodies) == 1  # type: ignore[attr-defined]
    (record,) = list_alerts(workspace)
    assert (record.model_name, record.kind, record.message) == ("bikes", "drift", ALERT.message)
    assert record.details == {"share": 0.6, "psi": None}


def test_closed_port_returns_false_and_still_stores(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/hook"
    with caplog.at_level("WARNING", logger="mlcycle.alerts"):
        assert raise_alert(workspace, ALERT, webhook_url=url) is False
    assert len(list_alerts(workspace)) == 1
    assert any(url in r.getMessage() for r in caplog.records)
    with pytest.raises(MlcycleError, match=re.escape(url)):
        post_webhook(url, ALERT, timeout=2.0)


def test_list_alerts_newest_first_filtered_and_limited(workspace: Workspace) -> None:
    for i in range(5):
        raise_alert(workspace, Alert("a" if i % 2 else "b", "performance", f"m{i}"))
    assert [r.message for r in list_alerts(workspace)] == ["m4", "m3", "m2", "m1", "m0"]
    assert [r.message for r in list_alerts(workspace, "a")] == ["m3", "m1"]
    assert len(list_alerts(workspace, limit=2)) == 2
    assert raise_alert(workspace, ALERT) is True
