"""raise_alert: stored first, one send per incident (dedup + cool-down), failures recorded."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.monitoring.test_channels import free_port, webhook  # noqa: F401 - the fixture

from mlcycle.core import MlcycleError
from mlcycle.monitoring import Alert, AlertRecord, list_alerts, raise_alert
from mlcycle.store import Workspace

HOUR = 3600.0
T0 = 1_700_000_000.0


class Inbox:
    """An in-memory channel: keeps what it is sent (the in-memory backend of the contract)."""

    name = "inbox"

    def __init__(self) -> None:
        self.sent: list[tuple[Alert, AlertRecord]] = []

    def send(self, alert: Alert, record: AlertRecord) -> None:
        self.sent.append((alert, record))


class Broken:
    name = "broken"

    def send(self, alert: Alert, record: AlertRecord) -> None:
        raise MlcycleError("smtp.example.org:587 refused the connection")


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    with Workspace(tmp_path) as ws:
        yield ws


def drift(*features: str) -> Alert:
    share = len(features) / 8
    return Alert(
        "bikes",
        "drift",
        f"{len(features)} of 8 features drifted",
        {"drifted_features": list(features), "share": share},
    )


def test_one_incident_sends_one_alert_until_the_cool_down_ends(workspace: Workspace) -> None:
    inbox = Inbox()

    def send(alert: Alert, at: float) -> Any:
        return raise_alert(
            workspace, alert, channels=[inbox], report="r.html", cooldown_seconds=HOUR, timestamp=at
        )

    first = send(drift("temp", "hum"), T0)
    again = send(drift("hum", "temp"), T0 + 60)  # same features, other order: same incident
    assert first.delivered and not first.suppressed
    assert again.suppressed and again.record == first.record and not again.delivered
    assert send(drift("temp"), T0 + 120).delivered  # other features: a new incident
    assert send(drift("temp", "hum"), T0 + HOUR + 1).delivered  # cool-down over: remind
    assert [r.dedup_key for _, r in inbox.sent] == [
        "drift:hum,temp",
        "drift:temp",
        "drift:hum,temp",
    ]
    assert [r.timestamp for r in list_alerts(workspace)] == [T0 + HOUR + 1, T0 + 120, T0]


def test_cool_down_holds_across_workspace_handles_and_models(tmp_path: Path) -> None:
    inbox = Inbox()
    for _ in range(2):  # a second process / a restart opens the workspace again
        with Workspace(tmp_path) as ws:
            raise_alert(ws, drift("temp"), channels=[inbox], cooldown_seconds=HOUR, timestamp=T0)
            other = Alert("taxis", "drift", "x", {"drifted_features": ["temp"]})
            raise_alert(ws, other, channels=[inbox], cooldown_seconds=HOUR, timestamp=T0)
    assert [a.model_name for a, _ in inbox.sent] == ["bikes", "taxis"]


def test_explicit_dedup_key_and_zero_cool_down(workspace: Workspace) -> None:
    inbox = Inbox()
    keyed = Alert("bikes", "performance", "mae 55 > 50", dedup_key="mae-high")
    assert keyed.incident_key() == "mae-high"
    for _ in range(2):
        raise_alert(workspace, keyed, channels=[inbox])  # cool-down 0: every alert is sent
    assert len(inbox.sent) == 2


def test_failing_channel_is_recorded_and_does_not_stop_the_others(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = Inbox()
    with caplog.at_level("WARNING", logger="mlcycle.alerts"):
        outcome = raise_alert(workspace, drift("temp"), channels=[Broken(), inbox], report="r.html")
    assert outcome.errors == {"broken": "smtp.example.org:587 refused the connection"}
    assert not outcome.delivered and len(inbox.sent) == 1
    (stored,) = list_alerts(workspace)
    assert stored.details["delivery_errors"] == outcome.errors and stored.report == "r.html"
    assert any("not delivered by broken" in r.getMessage() for r in caplog.records)


def test_webhook_url_shorthand_stores_then_posts(
    workspace: Workspace,
    webhook: Any,  # noqa: F811 - the fixture imported above
) -> None:
    outcome = raise_alert(
        workspace, drift("temp"), webhook_url=webhook.url, report="https://ml/r/1"
    )
    assert outcome.delivered
    (body,) = webhook.bodies
    assert json.loads(body)["mlcycle"]["report"] == "https://ml/r/1"
    (record,) = list_alerts(workspace)
    assert (record.model_name, record.kind, record.dedup_key) == ("bikes", "drift", "drift:temp")
    assert record.details == {"drifted_features": ["temp"], "share": 0.125}


def test_closed_webhook_port_still_stores(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    with caplog.at_level("WARNING", logger="mlcycle.alerts"):
        outcome = raise_alert(workspace, drift("temp"), webhook_url=url)
    assert not outcome.delivered and re.search(re.escape(url), outcome.errors["webhook"])
    assert len(list_alerts(workspace)) == 1
    assert any(url in r.getMessage() for r in caplog.records)


def test_list_alerts_newest_first_filtered_and_limited(workspace: Workspace) -> None:
    for i in range(5):
        raise_alert(
            workspace, Alert("a" if i % 2 else "b", "performance", f"m{i}"), timestamp=T0 + i
        )
    assert [r.message for r in list_alerts(workspace)] == ["m4", "m3", "m2", "m1", "m0"]
    assert [r.message for r in list_alerts(workspace, "a")] == ["m3", "m1"]
    assert len(list_alerts(workspace, limit=2)) == 2


def test_server_exposes_the_monitoring_gauges(workspace: Workspace) -> None:
    from fastapi.testclient import TestClient

    from mlcycle.monitoring import monitoring_gauges
    from mlcycle.server import create_app

    monitoring_gauges().observe("gauge-test", drift_share=0.375, live_metrics={"mae": 42.0})
    with TestClient(create_app(workspace)) as client:
        text = client.get("/metrics").text
    assert 'mlcycle_drift_share{model="gauge-test"} 0.375' in text
    assert 'mlcycle_live_metric{metric="mae",model="gauge-test"} 42.0' in text
