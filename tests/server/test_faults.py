"""Faults between client and server: lost answers, 5xx, timeouts, a server that is gone.

The server in front of these tests applies a request, then loses the
answer (the connection drops, a 503 comes back, or the answer is late):
the client retries and nothing is logged twice.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from mlcycle.core import MlcycleError
from mlcycle.server import create_app
from mlcycle.store import Workspace
from mlcycle.tracking import MetricColumns, RunBatch, get_run, metric_series, start_run
from mlcycle.tracking._http import HttpTrackingStore, split_requests

StoreMaker = Callable[..., HttpTrackingStore]


class LoseAnswers:
    """ASGI wrapper: applies the first `n` `POST path` requests, then loses their answers.

    `mode` "drop" starts the answer and closes the connection mid-way,
    "503" answers Service Unavailable, "late" answers after `delay` seconds.
    """

    def __init__(self, app: Any, path: str, mode: str, n: int = 1, delay: float = 0.0) -> None:
        self.app, self.path, self.mode, self.n, self.delay = app, path, mode, n, delay
        self.seen = 0
        self.lost = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        matches = scope["type"] == "http" and scope["method"] == "POST"
        if not (matches and scope["path"] == self.path):
            return await self.app(scope, receive, send)
        self.seen += 1
        if self.lost >= self.n:
            return await self.app(scope, receive, send)
        self.lost += 1
        answer: list[dict[str, Any]] = []

        async def keep(message: dict[str, Any]) -> None:
            answer.append(message)

        await self.app(scope, receive, keep)  # applied; its answer is held back
        if self.mode == "late":
            await asyncio.sleep(self.delay)
            for message in answer:
                await send(message)
        if self.mode == "503":
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": b'{"error": "overloaded"}'})
        elif self.mode == "drop":  # answer half, then uvicorn closes the connection
            headers = [(b"content-length", b"1000")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})


def _log_some(store: HttpTrackingStore) -> str:
    with start_run(store, experiment="faults") as run:
        run.log_params({"lr": 0.1})
        run.log_series("loss", np.arange(100, dtype=float))
        run.set_tag("phase", "train")
    return run.id


@pytest.mark.parametrize("mode", ["drop", "503"])
@pytest.mark.parametrize("path", ["/api/batches", "/api/runs"])
def test_lost_answers_are_retried_and_applied_once(
    server_ws: Workspace,
    thread_server: Callable[[Any], Any],
    http_store: StoreMaker,
    mode: str,
    path: str,
) -> None:
    wrapper = LoseAnswers(create_app(server_ws), path, mode)
    store = http_store(thread_server(wrapper).url, retries=3)
    run_id = _log_some(store)
    assert wrapper.lost == 1 and wrapper.seen == 2, "the first answer was lost, then retried"
    record = get_run(server_ws, run_id)
    assert record.status == "FINISHED"
    assert record.params == {"lr": "0.1"} and record.tags == {"phase": "train"}
    series = metric_series(server_ws, run_id, "loss")
    assert series.steps.tolist() == list(range(100)), "every point exactly once"


def test_late_answers_time_out_and_are_retried_once(
    server_ws: Workspace, thread_server: Callable[[Any], Any], http_store: StoreMaker
) -> None:
    wrapper = LoseAnswers(create_app(server_ws), "/api/batches", "late", delay=1.5)
    store = http_store(thread_server(wrapper).url, retries=3, timeout=0.5)
    run_id = _log_some(store)
    assert wrapper.seen >= 2
    assert len(metric_series(server_ws, run_id, "loss")) == 100


def test_persistent_failures_raise_after_bounded_retries(
    server_ws: Workspace, thread_server: Callable[[Any], Any], http_store: StoreMaker
) -> None:
    wrapper = LoseAnswers(create_app(server_ws), "/api/batches", "503", n=1000)
    url = thread_server(wrapper).url
    store = http_store(url, retries=2, backoff=0.05)
    run = start_run(store)
    run.log_metric("m", 1.0)
    started = time.monotonic()
    with pytest.raises(MlcycleError, match=rf"{url}.*3 attempts.*HTTP 503: overloaded"):
        run.end()
    assert time.monotonic() - started < 5
    assert wrapper.seen == 3
    assert metric_series(server_ws, run.id, "m").values.tolist() == [1.0], "applied once"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_server_names_the_url(http_store: StoreMaker) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    store = http_store(url, retries=2, backoff=0.01)
    with pytest.raises(MlcycleError, match=rf"tracking server {url}: creating a run failed"):
        start_run(store)


def test_server_gone_before_the_run_ends(
    server_ws: Workspace, thread_server: Callable[[Any], Any], http_store: StoreMaker
) -> None:
    running = thread_server(create_app(server_ws))
    store = http_store(running.url, retries=1, backoff=0.01)
    run = start_run(store)
    run.log_metric("m", 1.0)
    running.stop()
    with pytest.raises(MlcycleError, match=rf"could not log to run {run.id}.*{running.url}"):
        run.end()


def test_big_batches_are_split_into_requests() -> None:
    stamps = [0.0] * 600
    big = RunBatch(
        "r1",
        metrics={"a": MetricColumns(list(range(600)), [1.0] * 600, stamps)},
        params={"p": "1"},
        status="FINISHED",
        end_time=1.0,
    )
    small = RunBatch("r2", metrics={"b": MetricColumns([0], [2.0], [0.0])})
    requests = split_requests([big, small], max_points=250)
    assert [sum(b.points() for b in r) for r in requests] == [250, 250, 101]
    flat = [b for r in requests for b in r]
    assert [b.run_id for b in flat] == ["r1", "r1", "r1", "r1", "r2"]
    assert flat[3].status == "FINISHED" and flat[3].params == {"p": "1"}, "ends after its points"
    assert all(b.status is None for b in flat[:3])
    steps = [s for b in flat[:3] for s in b.metrics["a"].steps]
    assert steps == list(range(600))
    assert split_requests([small], 250) == [[small]]
