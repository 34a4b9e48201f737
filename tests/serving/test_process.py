"""The model server as a real child process: HTTP, hot swaps under load, start-up errors."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.serving.conftest import MODEL, Served

from mlcycle.core import ServingError
from mlcycle.registry import set_alias
from mlcycle.serving import ServerProcess, start_server_process

pytestmark = pytest.mark.slow

ALIAS = "e2e"


@pytest.fixture
def server(served: Served) -> Iterator[ServerProcess]:
    set_alias(served.ws, MODEL, ALIAS, 1)
    proc = start_server_process(served.ws, f"{MODEL}@{ALIAS}")
    try:
        yield proc
    finally:
        proc.stop()


def _records(served: Served, n: int = 3) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads(served.rows.head(n).to_json(orient="records"))
    return out


def _served_version(http: httpx.Client) -> int:
    return int(http.get(f"/v2/models/{MODEL}").json()["versions"][0])


def test_server_answers_over_http_and_stops(server: ServerProcess, served: Served) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    assert not server.url.endswith(":0")
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/v2/health/live").json() == {"live": True}
        assert http.get("/v2/health/ready").json() == {"ready": True}
        assert http.get("/v2").json()["name"] == "mlcycle"
        predicted = http.post("/predict", json=_records(served), headers={"X-Request-ID": "e2e-1"})
        assert predicted.status_code == 200, predicted.text
        assert predicted.json()["ids"] == ["e2e-1-0", "e2e-1-1", "e2e-1-2"]
        bad = http.post("/predict", content=b"{nope")
        assert bad.status_code == 400 and "JSON" in bad.json()["error"]
        missing = http.get("/v2/models/other")
        assert missing.status_code == 404 and "'other'" in missing.json()["error"]
        families = {f.name for f in text_string_to_metric_families(http.get("/metrics").text)}
        assert {"mlcycle_requests", "mlcycle_model_version"} <= families
    server.stop()
    assert server.process.poll() is not None


def test_alias_moves_under_load_without_failed_requests(
    server: ServerProcess, served: Served
) -> None:
    body = _records(served)
    answered: dict[int, int] = {}
    failures: list[str] = []
    stop = threading.Event()

    def stream() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            while not stop.is_set():
                try:
                    response = http.post("/predict", json=body)
                except httpx.HTTPError as err:
                    failures.append(repr(err))
                    continue
                if response.status_code != 200:
                    failures.append(f"{response.status_code}: {response.text[:200]}")
                    continue
                version = response.json()["model_version"]
                answered[version] = answered.get(version, 0) + 1

    sender = threading.Thread(target=stream, daemon=True)
    sender.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            for target in [2, 1, 2, 1, 2, 1]:
                set_alias(served.ws, MODEL, ALIAS, target)
                deadline = time.monotonic() + 60
                while _served_version(http) != target:
                    assert time.monotonic() < deadline, f"server never reported version {target}"
                    time.sleep(0.05)
                seen = sum(answered.values())  # let some requests land on this version
                while sum(answered.values()) < seen + 3 and not failures:
                    assert time.monotonic() < deadline, "the request stream stalled"
                    time.sleep(0.01)
    finally:
        stop.set()
        sender.join(timeout=60)
    assert not sender.is_alive()
    assert failures == []
    assert set(answered) == {1, 2}
    server.stop()
    assert server.process.poll() is not None


def test_unknown_model_makes_the_child_exit_with_a_message(served: Served) -> None:
    with pytest.raises(ServingError, match="exited") as caught:
        start_server_process(served.ws, "nope@production")
    assert "nope" in str(caught.value)


def test_the_server_freezes_the_heap_it_starts_with() -> None:
    """Objects alive at start-up (modules, the model) leave the cyclic GC's full
    collections, which walked them all every few seconds under load."""
    import gc

    from mlcycle.serving._process import _freeze_heap

    assert gc.get_freeze_count() == 0
    try:
        _freeze_heap()
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
