"""Automatic rollback: a bad version is rolled back within its window, a good one stays."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline
from tests.serving.conftest import MODEL, Served

from mlcycle.core import DeploymentConfig, RollbackConfig
from mlcycle.models import fetch_package, load_package, save_package, store_package
from mlcycle.registry import (
    alias_version,
    audit_log,
    get_model_version,
    move_alias_if,
    register_model_version,
    set_alias,
)
from mlcycle.serving import RollbackEvent, VersionStats, build_deployment, create_app
from mlcycle.serving._rollback import breach


@pytest.fixture(scope="module")
def bad_version(served: Served, tmp_path_factory: pytest.TempPathFactory) -> int:
    """Register a version that fails on rows with a missing number (no imputer), else works."""
    record = get_model_version(served.ws, MODEL, 1)
    good = load_package(fetch_package(served.ws.objects, record.package_id, served.ws.state_dir))
    signature = good.meta.signature
    numeric = [c.name for c in signature.inputs if c.dtype != "string"]
    inputs = signature.validate(served.rows)
    model = Pipeline(
        [("numbers", ColumnTransformer([("keep", "passthrough", numeric)])),
         ("linear", LinearRegression())]
    )  # fmt: skip
    model.fit(inputs, served.rows["cnt"])
    folder = save_package(model, good.meta, tmp_path_factory.mktemp("bad") / "package")
    package_id = store_package(served.ws.objects, folder)
    return register_model_version(served.ws, MODEL, package_id).version


def _body(served: Served, missing: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(served.rows.head(2).to_json(orient="records"))
    if missing:
        rows[0]["temp"] = None
    return rows


def _until(condition: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _serve(
    served: Served, alias: str, rollback: RollbackConfig, events: list[RollbackEvent]
) -> Any:
    config = DeploymentConfig(model=MODEL, alias=alias, rollback=rollback)
    deployment = build_deployment(served.ws, config, on_rollback=events.append)
    app = create_app(deployment, poll_seconds=0.05)
    return TestClient(app, raise_server_exceptions=False), deployment


def test_a_failing_version_is_rolled_back_audited_and_alerted(
    served: Served, bad_version: int
) -> None:
    set_alias(served.ws, MODEL, "rb-bad", 1)
    events: list[RollbackEvent] = []
    rollback = RollbackConfig(window_seconds=300, max_error_rate=0.2, min_requests=5)
    client, _ = _serve(served, "rb-bad", rollback, events)
    with client:
        set_alias(served.ws, MODEL, "rb-bad", bad_version)

        def version() -> int:
            answer = client.post("/predict", json=_body(served, missing=False)).json()
            return int(answer["model_version"])

        _until(lambda: version() == bad_version, "the bad version was never swapped in")
        failures = 0
        while not events:
            got = client.post("/predict", json=_body(served, missing=True))
            failures += got.status_code == 500
            assert got.status_code in (200, 500), got.text
            assert failures < 1000, "no rollback after 1,000 failed requests"
        _until(lambda: version() == 1, "the server never swapped back to version 1")
    assert alias_version(served.ws, MODEL, "rb-bad") == 1
    [event] = events
    assert (event.bad_version, event.restored_version) == (bad_version, 1)
    assert event.evidence["requests"] >= 5 and event.evidence["error_rate"] > 0.2
    audit = audit_log(served.ws, MODEL, limit=1)[0]
    assert (audit.actor, audit.alias, audit.from_version, audit.to_version) == (
        "mlcycle-serve", "rb-bad", bad_version, 1,
    )  # fmt: skip
    assert audit.evidence["errors"] == event.evidence["errors"]
    assert "error rate" in audit.reason
    # a second server process trying the same rollback changes nothing
    again = move_alias_if(served.ws, MODEL, "rb-bad", expected=bad_version, version=1, reason="x")
    assert again is None


def test_a_good_version_is_kept_after_its_window(served: Served) -> None:
    set_alias(served.ws, MODEL, "rb-good", 1)
    events: list[RollbackEvent] = []
    rollback = RollbackConfig(window_seconds=0.5, max_error_rate=0.0, min_requests=5)
    client, deployment = _serve(served, "rb-good", rollback, events)
    with client:
        set_alias(served.ws, MODEL, "rb-good", 2)
        guard = deployment.guard
        assert guard is not None
        _until(lambda: guard.watching() == [2], "version 2 was never swapped in and watched")
        for _ in range(10):
            assert client.post("/predict", json=_body(served, missing=False)).status_code == 200
        _until(lambda: guard.watching() == [], "the window never closed")
    assert events == []
    assert alias_version(served.ws, MODEL, "rb-good") == 2
    assert deployment.stats[2].snapshot()["requests"] == 10


def test_breach_needs_min_requests_and_names_the_threshold() -> None:
    config = RollbackConfig(max_error_rate=0.1, max_p99_ms=50.0, min_requests=10)
    stats = VersionStats()
    for i in range(9):
        stats.add(0.001, failed=i < 5)
    assert breach(stats.snapshot(), config) is None  # 9 < min_requests
    stats.add(0.001, failed=False)
    assert breach(stats.snapshot(), config) == "error rate 50.0% > 10.0%"
    slow = VersionStats()
    for seconds in np.linspace(0.001, 0.2, 100):
        slow.add(float(seconds), failed=False)
    assert slow.snapshot()["p99_ms"] == pytest.approx(198.0, abs=0.1)
    assert breach(slow.snapshot(), config) == "p99 latency 198 ms > 50 ms"
