"""Micro-batching and overload: merged model calls, isolated errors, 503/504/413, duplicate ids."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from tests.serving._models import MODEL, Gated, toy_frame, toy_workspace

from mlcycle.core import ServingConfig
from mlcycle.serving import ModelHolder, create_app
from mlcycle.store import Workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    workspace = toy_workspace(Path(tmp_path_factory.mktemp("batching")))
    yield workspace
    workspace.close()


def _server(ws: Workspace, **config: Any) -> tuple[TestClient, Gated]:
    holder = ModelHolder(ws, f"{MODEL}@production")
    gated = Gated(holder.current.model.estimator)
    holder.current.model.estimator = gated
    settings = ServingConfig(log_flush_seconds=0, **config)
    return TestClient(create_app(holder, config=settings)), gated


def _records(rows: int, seed: int) -> list[dict[str, float]]:
    return toy_frame(rows, seed).to_dict(orient="records")  # type: ignore[return-value]


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _hold_then_send(
    client: TestClient,
    gated: Gated,
    bodies: list[Any],
    pool: ThreadPoolExecutor,
    first_body: Any = None,
) -> list[Any]:
    """Block the model on a first request, queue `bodies` behind it, then release."""
    gated.gate.clear()
    first = pool.submit(client.post, "/predict", json=first_body or _records(1, 99))
    _wait(gated.entered.is_set, "the first model call")
    futures: list[Future[Any]] = [pool.submit(client.post, "/predict", json=b) for b in bodies]
    predictor = client.app.state.predictor  # type: ignore[attr-defined]
    _wait(lambda: predictor.queued() == len(bodies), f"{len(bodies)} queued requests")
    gated.gate.set()
    assert first.result(30).status_code == 200
    return [f.result(30) for f in futures]


def test_concurrent_requests_share_one_model_call(ws: Workspace) -> None:
    client, gated = _server(ws)
    bodies = [_records(1 + n % 3, seed=n) for n in range(8)]
    with client, ThreadPoolExecutor(9) as pool:
        answers = _hold_then_send(client, gated, bodies, pool)
    assert [a.status_code for a in answers] == [200] * 8
    assert gated.calls == [1, sum(len(b) for b in bodies)]  # the held call, then one merged call
    for body, answer in zip(bodies, answers, strict=True):
        alone = gated.estimator.predict(toy_frame(len(body), seed=bodies.index(body)))
        assert answer.json()["predictions"] == alone.tolist()
        assert len(answer.json()["ids"]) == len(body)


def test_a_bad_numeric_request_is_refused_before_it_joins_a_batch(ws: Workspace) -> None:
    client, gated = _server(ws)
    bad = _records(2, seed=5)
    bad[1]["f2"] = "warm"  # type: ignore[assignment]
    with client, ThreadPoolExecutor(4) as pool:
        gated.gate.clear()
        first = pool.submit(client.post, "/predict", json=_records(1, 99))
        _wait(gated.entered.is_set, "the first model call")
        refused = client.post("/predict", json=bad)  # answered while the model is busy
        good = [pool.submit(client.post, "/predict", json=_records(1, n)) for n in (1, 2)]
        _wait(lambda: client.app.state.predictor.queued() == 2, "two queued requests")  # type: ignore[attr-defined]
        gated.gate.set()
        assert [f.result(30).status_code for f in [first, *good]] == [200] * 3
    assert refused.status_code == 400
    assert "Column 'f2'" in refused.json()["error"] and "'warm'" in refused.json()["error"]
    assert "row 1" in refused.json()["error"]
    assert gated.calls == [1, 2]  # the two good rows, merged


def test_a_bad_request_fails_alone_in_its_batch(tmp_path: Path) -> None:
    city_ws = toy_workspace(tmp_path, city=True)  # a string input: rows are validated per batch
    client, gated = _server(city_ws)
    records = lambda seed: [{**r, "city": "Oslo"} for r in _records(1, seed)]  # noqa: E731
    bad = [*records(5), {**_records(1, 6)[0], "city": "Rome", "f2": "warm"}]
    with client, ThreadPoolExecutor(4) as pool:
        answers = _hold_then_send(client, gated, [records(1), bad, records(2)], pool, records(9))
    city_ws.close()
    assert [a.status_code for a in answers] == [200, 400, 200]
    assert "Column 'f2'" in answers[1].json()["error"] and "'warm'" in answers[1].json()["error"]
    assert gated.calls[-1] == 2  # the two good rows, still merged


def test_a_lone_request_goes_straight_to_the_model(ws: Workspace) -> None:
    client, gated = _server(ws, max_latency_ms=10_000)
    with client:
        for seed in range(3):
            assert client.post("/predict", json=_records(1, seed)).status_code == 200
    assert gated.calls == [1, 1, 1]  # no waiting for company at concurrency 1


def test_max_batch_size_splits_the_queue(ws: Workspace) -> None:
    client, gated = _server(ws, max_batch_size=4)
    bodies = [_records(2, seed=n) for n in range(5)]
    with client, ThreadPoolExecutor(6) as pool:
        answers = _hold_then_send(client, gated, bodies, pool)
    assert all(a.status_code == 200 for a in answers)
    assert gated.calls[1:] == [4, 4, 2]


def test_a_full_queue_answers_503_with_retry_after(ws: Workspace) -> None:
    client, gated = _server(ws, max_queue=2)
    with client, ThreadPoolExecutor(4) as pool:
        gated.gate.clear()
        first = pool.submit(client.post, "/predict", json=_records(1, 0))
        _wait(gated.entered.is_set, "the first model call")
        queued = [pool.submit(client.post, "/predict", json=_records(1, n)) for n in (1, 2)]
        _wait(lambda: client.app.state.predictor.queued() == 2, "two queued requests")  # type: ignore[attr-defined]
        refused = client.post("/predict", json=_records(1, 3))
        gated.gate.set()
        assert [f.result(30).status_code for f in [first, *queued]] == [200] * 3
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert "serving.max_queue=2" in refused.json()["error"]


def test_a_slow_model_answers_504(ws: Workspace) -> None:
    client, gated = _server(ws, request_timeout_seconds=0.2)
    with client:
        gated.gate.clear()
        answer = client.post("/predict", json=_records(1, 0))
        gated.gate.set()
        assert client.post("/predict", json=_records(1, 1)).status_code == 200  # still serving
    assert answer.status_code == 504
    assert "serving.request_timeout_seconds" in answer.json()["error"]


def test_a_body_over_the_limit_answers_413(ws: Workspace) -> None:
    client, gated = _server(ws, max_body_bytes=2048)
    with client:
        big = client.post("/predict", json=_records(40, 0))
        chunked = client.post("/predict", content=iter([b"[" + b" " * 3000 + b"]"]))
        small = client.post("/predict", json=_records(1, 0))
    assert big.status_code == 413 and "serving.max_body_bytes" in big.json()["error"]
    assert chunked.status_code == 413  # no Content-Length: counted while read
    assert small.status_code == 200
    assert gated.calls == [1]


def test_a_reused_request_id_is_refused(ws: Workspace) -> None:
    client, _ = _server(ws)
    headers = {"X-Request-ID": "req-1"}
    with client:
        first = client.post("/predict", json=_records(1, 0), headers=headers)
        again = client.post("/predict", json=_records(1, 1), headers=headers)
    assert first.status_code == 200 and first.json()["ids"] == ["req-1-0"]
    assert again.status_code == 400 and "'req-1' was already used" in again.json()["error"]


def test_predictions_match_the_model_for_a_100_row_request(ws: Workspace) -> None:
    client, gated = _server(ws)
    rows = toy_frame(100, seed=7)
    with client:
        answer = client.post("/predict", json=rows.to_dict(orient="records"))
    body = answer.json()
    assert body["predictions"] == gated.estimator.predict(rows).tolist()
    np.testing.assert_allclose(body["probabilities"], gated.estimator.predict_proba(rows))


def test_the_collector_waits_for_as_many_requests_as_the_last_batch_held() -> None:
    """After a batch of 3, the next batch goes once 3 requests wait, not after
    `max_latency`; a batch with fewer requests than that waits the full time."""
    import asyncio

    from mlcycle.serving._batching import MicroBatcher

    calls: list[list[int]] = []

    def run(items: list[int]) -> list[int]:
        calls.append(items)
        time.sleep(0.05)  # while the model runs, the next requests queue up
        return items

    async def scenario() -> tuple[float, float]:
        batcher: MicroBatcher[int, int] = MicroBatcher(
            run, max_rows=256, max_latency=2.0, max_queue=100
        )
        first = asyncio.create_task(batcher.submit(0, 1))
        await asyncio.sleep(0.01)  # the model is busy with 0: 1, 2, 3 form one batch
        await asyncio.gather(first, *(batcher.submit(i, 1) for i in (1, 2, 3)))
        start = time.monotonic()
        await asyncio.gather(*(batcher.submit(i, 1) for i in (4, 5, 6)))
        three = time.monotonic() - start
        start = time.monotonic()
        await asyncio.gather(*(batcher.submit(i, 1) for i in (7, 8)))
        two = time.monotonic() - start
        await batcher.close()
        return three, two

    three, two = asyncio.run(scenario())
    assert calls == [[0], [1, 2, 3], [4, 5, 6], [7, 8]]
    assert three < 1.0  # no waiting for max_latency: the batch was as big as the last
    assert two >= 2.0  # fewer than the last batch: waited the whole max_latency
