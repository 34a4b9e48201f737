"""ModelHolder: following an alias, pinned versions, and swaps seen by the app."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from tests.serving.conftest import MODEL, Served

import mlcycle
from mlcycle.core import ModelNotFound
from mlcycle.registry import set_alias
from mlcycle.serving import (
    ModelHolder,
    create_app,
    parse_model_ref,
    read_inference_log,
    start_server_process,
)


def _records(served: Served) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads(served.rows.head(5).to_json(orient="records"))
    return out


def test_parse_model_ref() -> None:
    assert parse_model_ref("m@production") == ("m", "production", None)
    assert parse_model_ref("m@3") == ("m", None, 3)
    assert parse_model_ref("m") == ("m", "production", None)
    with pytest.raises(ModelNotFound):
        parse_model_ref("@production")


def test_refresh_swaps_after_set_alias_and_the_app_serves_the_new_version(served: Served) -> None:
    set_alias(served.ws, MODEL, "swap-inproc", 1)
    holder = ModelHolder(served.ws, f"{MODEL}@swap-inproc")
    client = TestClient(create_app(holder))  # no lifespan: no poller, refresh() is explicit
    body = _records(served)
    v1 = client.post("/predict", json=body).json()
    assert v1["model_version"] == 1
    assert holder.refresh() is False

    set_alias(served.ws, MODEL, "swap-inproc", 2)
    assert holder.current.version == 1  # nothing moves until the holder looks
    assert holder.refresh() is True
    assert holder.current.version == 2
    assert holder.refresh() is False

    assert client.get(f"/v2/models/{MODEL}").json()["versions"] == ["2"]
    v2 = client.post("/predict", json=body).json()
    assert v2["model_version"] == 2
    want = mlcycle.load_model(f"{MODEL}@2", workspace=served.ws).predict(served.rows.head(5))
    np.testing.assert_allclose(v2["predictions"], want, rtol=1e-12)
    assert not np.allclose(v1["predictions"], v2["predictions"])  # really another model
    ids = v2["ids"]
    logged = read_inference_log(served.ws, ids)
    assert logged["model_version"].tolist() == [2] * 5


def test_the_poller_follows_the_alias(served: Served) -> None:
    set_alias(served.ws, MODEL, "swap-poll", 1)
    holder = ModelHolder(served.ws, f"{MODEL}@swap-poll")
    with TestClient(create_app(holder, poll_seconds=0.05)) as client:
        set_alias(served.ws, MODEL, "swap-poll", 2)
        deadline = time.monotonic() + 30
        while client.get(f"/v2/models/{MODEL}").json()["versions"] != ["2"]:
            assert time.monotonic() < deadline, "the server never reported version 2"
            time.sleep(0.02)
        assert client.post("/predict", json=_records(served)).json()["model_version"] == 2


def test_a_pinned_version_never_moves(served: Served) -> None:
    set_alias(served.ws, MODEL, "swap-pinned", 1)
    holder = ModelHolder(served.ws, f"{MODEL}@2")
    assert holder.alias is None and holder.current.version == 2
    set_alias(served.ws, MODEL, "swap-pinned", 1)
    assert holder.refresh() is False
    assert holder.current.version == 2


@pytest.mark.parametrize(
    ("ref", "needle"),
    [("nope@production", "'nope'"), (f"{MODEL}@no-such-alias", "no-such-alias"),
     (f"{MODEL}@99", "99")],
)  # fmt: skip
def test_unknown_model_alias_or_version_raises(served: Served, ref: str, needle: str) -> None:
    with pytest.raises(ModelNotFound, match=needle):
        ModelHolder(served.ws, ref)


class _Load:
    """Threads posting /predict in a loop; they count failures and note the last version."""

    def __init__(self, url: str, body: list[dict[str, Any]], threads: int = 4) -> None:
        self.url, self.body = url, body
        self.ok, self.version = 0, 0
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                try:
                    got = client.post("/predict", json=self.body)
                    outcome = got.json()["model_version"] if got.status_code == 200 else got.text
                except httpx.HTTPError as err:
                    outcome = repr(err)
                with self.lock:
                    if isinstance(outcome, int):
                        self.ok, self.version = self.ok + 1, outcome
                    else:
                        self.failures.append(outcome)


@pytest.mark.slow
def test_zero_failed_requests_across_10_promotions_under_load(served: Served) -> None:
    set_alias(served.ws, MODEL, "swap-load", 1)
    load = None
    with start_server_process(served.ws, f"{MODEL}@swap-load") as server:
        load = _Load(server.url, _records(served))
        for thread in load.threads:
            thread.start()
        try:
            for promotion in range(10):
                target = 2 if promotion % 2 == 0 else 1
                set_alias(served.ws, MODEL, "swap-load", target)
                deadline = time.monotonic() + 60
                while load.version != target:
                    assert time.monotonic() < deadline, f"promotion {promotion} never served"
                    time.sleep(0.02)
        finally:
            load.stop.set()
            for thread in load.threads:
                thread.join()
    assert load.failures == []
    assert load.ok > 10
