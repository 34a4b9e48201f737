"""Fixtures of the web UI tests: a seeded workspace, an app, a real uvicorn server.

The workspace holds 30 runs in three experiments (params, metric series,
tags, artifacts, one FAILED, one with NaN and inf metrics), one run with a
100,000-point series, a dataset version, a registered model with two
versions whose `production` alias moved from v1 to v2, an alert and a loop
report written by the loop's own writer.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI
from tests.conftest import bike_config

from mlcycle.data import snapshot
from mlcycle.loop import ReplayResult, WindowOutcome, write_loop_report
from mlcycle.loop._durable import Decision, LoopState, commit
from mlcycle.monitoring import Alert, raise_alert
from mlcycle.registry import register_model_version, set_alias
from mlcycle.store import Workspace
from mlcycle.tracking import attach_run, start_run
from mlcycle.ui import make_router

MODEL = "bike-demand"
LONG_POINTS = 100_000


@dataclass(frozen=True)
class Seeded:
    """The seeded workspace and the ids the tests look for."""

    ws: Workspace
    run_ids: dict[str, str]  # run name -> id
    long_run: str
    nan_run: str


def _log_run(ws: Workspace, experiment: str, i: int, artifact: Path) -> tuple[str, str]:
    model = ("hgb", "rf", "linear")[i % 3]
    name = f"{experiment}-{i:02d}"
    rng = np.random.default_rng(i)
    final_mae = 25.0 + 3.0 * i + (5.0 if model == "linear" else 0.0)
    with start_run(ws, experiment=experiment, name=name, tags={"team": "ab"[i % 2]}) as run:
        run.log_params({"model": model, "lr": round(0.01 * (1 + i % 5), 3), "depth": 3 + i % 4})
        steps = np.arange(40)
        curve = final_mae + 60.0 * np.exp(-steps / 8.0) + rng.normal(0, 1.0, len(steps))
        curve[-1] = final_mae
        run.log_series("mae", curve, steps)
        run.log_metrics({"rmse": final_mae * 1.4, "r2": 0.9 - i / 100})
        run.log_artifact(artifact, "notes/summary.txt")
    return name, run.id


def _long_run(ws: Workspace) -> str:
    steps = np.arange(LONG_POINTS)
    rng = np.random.default_rng(7)
    loss = (
        2.0 * np.exp(-steps / 20_000)
        + 0.05 * np.sin(steps / 500)
        + rng.normal(0, 0.02, LONG_POINTS)
    )
    loss[[10, 20_000, 55_555]] = [np.nan, np.inf, np.nan]
    with start_run(ws, experiment="deep", name="long-training") as run:
        run.log_params({"model": "mlp", "lr": 0.001, "depth": 8})
        run.log_series("loss", loss, steps)
        run.log_metrics({"mae": 21.5, "rmse": 30.1, "r2": 0.95})
    return run.id


def _nan_run(ws: Workspace) -> str:
    with pytest.raises(RuntimeError), start_run(ws, experiment="deep", name="diverged") as run:
        run.log_params({"model": "mlp", "lr": 0.5, "depth": 8})
        run.log_metrics({"mae": math.nan, "rmse": math.inf, "r2": -math.inf})
        raise RuntimeError("loss exploded")
    return run.id


def _registry(ws: Workspace, first: str, second: str, data: Path) -> None:
    dataset = snapshot(ws, data)
    for run_id in (first, second):
        with attach_run(ws, run_id) as run:
            run.log_input(dataset)
    package = ws.objects.put_bytes
    v1 = register_model_version(
        ws, MODEL, package(b"package v1"), run_id=first, metrics={"mae": 31.0}, actor="alice"
    )
    set_alias(ws, MODEL, "production", v1.version, reason="first model", actor="alice")
    v2 = register_model_version(
        ws,
        MODEL,
        package(b"package v2"),
        run_id=second,
        metrics={"mae": 27.5},
        actor="mlcycle-loop",
    )
    evidence = {"window": "2012-03", "candidate_run": second, "gate": {"passed": True}}
    reason = "gate passed: mae 27.5 vs 31 (-11.3%)"
    set_alias(
        ws, MODEL, "production", v2.version, reason=reason, evidence=evidence, actor="mlcycle-loop"
    )
    set_alias(ws, MODEL, "staging", v2.version, reason="try it", actor="bob")


def _window(i: int, label: str) -> WindowOutcome:
    """Window `i` of a made-up loop: drift grows, v2 is promoted in window 2 and serves from 3."""
    promoted = i == 2
    return WindowOutcome(
        window=label,
        rows=700 + 10 * i,
        drift_share=min(1.0, 0.1 * i),
        drifted_features=("temp",) if i > 3 else (),
        prediction_drift_p=0.2,
        live_metric=40.0 + 2 * i - (12 if i >= 3 else 0),
        baseline_metric=40.0 + 2 * i,
        version=1 if i < 3 else 2,
        action="v2 promoted, -11.3%" if promoted else "-",
        live_metrics={"mae": 40.0 + 2 * i},
        psi={"temp": 0.05 * i, "hum": 0.02 * i},
        gate={"passed": True} if promoted else None,
    )


def _monitoring(ws: Workspace) -> None:
    details = {"window": "2012-03", "drift_share": 0.58}
    raise_alert(ws, Alert(MODEL, "retrain", "window 2012-03: data drift", details))
    windows = tuple(_window(i, f"2012-{i + 1:02d}") for i in range(8))
    result = ReplayResult("mae", windows, requests=120, failed_requests=0, initial_version=1)
    write_loop_report(result, ws.reports_dir, title=f"mlcycle loop: {MODEL}")
    rollback = Decision(
        "rollback",
        "v3 is worse on the next labeled window: mae 224.4 vs 45.6",
        {"window": ["2012-09-01", "2012-10-01"], "mae": {"v3": 224.4, "v2": 45.6}},
        from_version=3,
        to_version=2,
    )
    commit(ws, MODEL, LoopState(), rollback)


def seed(root: Path) -> Seeded:
    """Create and fill the workspace at `root`."""
    ws = Workspace(root, bike_config())
    artifact = root.parent / "summary.txt"
    artifact.write_text("final mae 25.0\n", encoding="utf-8")
    data = root.parent / "train.csv"
    data.write_text("temp,cnt\n0.2,10\n0.4,30\n", encoding="utf-8")
    ids = {}
    for experiment, n in (("bike-demand", 12), ("churn", 10), ("tuning", 6)):
        for i in range(n):
            name, run_id = _log_run(ws, experiment, i, artifact)
            ids[name] = run_id
    long_id, nan_id = _long_run(ws), _nan_run(ws)
    ids["long-training"], ids["diverged"] = long_id, nan_id
    _registry(ws, ids["bike-demand-00"], ids["bike-demand-03"], data)
    _monitoring(ws)
    ws.close()
    return Seeded(Workspace(root, bike_config()), ids, long_id, nan_id)


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """The seeded workspace (shared by the whole UI suite; tests only read it)."""
    data = seed(tmp_path_factory.mktemp("ui") / "ws")
    yield data
    data.ws.close()


def make_app(ws: Workspace) -> FastAPI:
    """A tiny app with the UI at `/` (what the server package does)."""
    app = FastAPI()
    app.include_router(make_router(ws))
    return app


@dataclass
class LiveServer:
    """A uvicorn server in a thread of this process."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread


@pytest.fixture(scope="session")
def live_server(seeded: Seeded) -> Iterator[LiveServer]:
    """The UI over the seeded workspace on 127.0.0.1 at a free port (bound by us, port 0)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(make_app(seeded.ws), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{url}/static/style.css", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the UI server did not answer within 20 s")
        time.sleep(0.05)
    yield LiveServer(url, server, thread)
    server.should_exit = True
    thread.join(10)
    sock.close()
