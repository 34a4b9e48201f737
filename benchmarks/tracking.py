"""Experiment tracking: MLflow and mlcycle side by side, same work, one run.

Each side runs in its own fresh temp folder on SQLite (MLflow's
`sqlite:///` backend, mlcycle's default workspace database):

1. `--calls` (default 10,000) `log_metric` calls in a loop, the flush included
   (MLflow writes each call synchronously; mlcycle's time runs to `run.end()`);
2. `--points` (default 1,000,000) points logged in batches of 1,000
   (`MlflowClient.log_batch` vs `Run.log_batch`), flush included;
3. create `--runs` (default 10,000) runs with 10 params and 10 metrics each;
4. search those runs by a metric with an order and a limit of 20 (median of 20);
5. with `--server`: the same calls through mlcycle's team server over
   PostgreSQL (`MLCYCLE_TRACKING_URI`), and the runs page of the web UI.

MLflow is slow enough that its side of (1)-(3) can be scaled down with
`--mlflow-scale` (e.g. 0.1); rates (per second) are compared, and the
table says what each side ran.

Usage: python benchmarks/tracking.py [--calls N] [--points N] [--runs N] [--mlflow-scale F]
Needs `pip install "mlcycle[mlflow]"`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

BATCH = 1000


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class MlflowSide:
    """MLflow on a fresh SQLite database."""

    name = "MLflow"

    def __init__(self, root: Path) -> None:
        import mlflow
        from mlflow.tracking import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.ERROR)
        logging.getLogger("alembic").setLevel(logging.ERROR)
        self.mlflow = mlflow
        uri = f"sqlite:///{root / 'mlflow.db'}"
        mlflow.set_tracking_uri(uri)
        self.client = MlflowClient(uri)
        self.exp = mlflow.set_experiment("bench").experiment_id
        self.version = mlflow.__version__

    def log_calls(self, n: int) -> None:
        with self.mlflow.start_run():
            for i in range(n):
                self.mlflow.log_metric("loss", 1.0 / (i + 1), step=i)

    def log_batches(self, n: int) -> None:
        from mlflow.entities import Metric

        run = self.client.create_run(self.exp)
        stamp = int(time.time() * 1000)
        for b in range(n // BATCH):
            metrics = [Metric("loss", float(i), stamp, b * BATCH + i) for i in range(BATCH)]
            self.client.log_batch(run.info.run_id, metrics=metrics)
        self.client.set_terminated(run.info.run_id)

    def create_runs(self, n: int) -> None:
        from mlflow.entities import Metric, Param

        stamp = int(time.time() * 1000)
        for r in range(n):
            run = self.client.create_run(self.exp)
            self.client.log_batch(
                run.info.run_id,
                metrics=[
                    Metric(f"m{k}", (r * 7919 + k * 104729) % 1000 / 1000, stamp, 0)
                    for k in range(10)
                ],
                params=[Param(f"p{k}", str((r + k) % 5)) for k in range(10)],
            )
            self.client.set_terminated(run.info.run_id)

    def search(self) -> int:
        found = self.client.search_runs(
            [self.exp], "metrics.m3 < 0.5", order_by=["metrics.m1 ASC"], max_results=20
        )
        return len(found)


class MlcycleSide:
    """mlcycle on a fresh workspace (SQLite), or on a tracking server (`store`)."""

    name = "mlcycle"

    def __init__(self, root: Path, store: Any = None) -> None:
        import mlcycle
        from mlcycle.tracking import start_run, store_for

        self.ws = mlcycle.open_workspace(root)
        self.store = store or store_for(self.ws)
        if store is None:  # create the database now, as MlflowSide does, not inside a timing
            self.store.experiment_id("bench")
        self.start_run = start_run
        self.version = mlcycle.__version__

    def log_calls(self, n: int) -> None:
        with self.start_run(self.store, experiment="bench") as run:
            for i in range(n):
                run.log_metric("loss", 1.0 / (i + 1), step=i)

    def log_batches(self, n: int) -> None:
        with self.start_run(self.store, experiment="bench") as run:
            for b in range(n // BATCH):
                run.log_batch([("loss", float(i), b * BATCH + i) for i in range(BATCH)])

    def create_runs(self, n: int) -> None:
        for r in range(n):
            with self.start_run(self.store, experiment="bench") as run:
                run.log_params({f"p{k}": (r + k) % 5 for k in range(10)})
                run.log_metrics({f"m{k}": (r * 7919 + k * 104729) % 1000 / 1000 for k in range(10)})

    def search(self) -> int:
        found = self.store.search_runs(
            "metrics.m3 < 0.5", experiment="bench", order_by=["metrics.m1"], limit=20
        )
        return len(found)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server for {url} exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up in {timeout} s")


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database on 127.0.0.1:5432, dropped afterwards."""
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"mlcycle_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def http_server(module_args: list[str], health: str) -> Iterator[str]:
    """`python -m MODULE_ARGS... --port P` in a subprocess; yields its URL once `health` answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", *module_args, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url + health, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def mlcycle_server(root: Path, db_url: str) -> contextlib.AbstractContextManager[str]:
    """`mlcycle server` over `db_url`."""
    return http_server(["mlcycle", "-w", str(root), "server", "--db", db_url], "/api/health")


def mlflow_server(db: Path) -> contextlib.AbstractContextManager[str]:
    """`mlflow server` (its default web UI) over the SQLite file `db`, one worker."""
    args = ["mlflow", "server", "--backend-store-uri", f"sqlite:///{db}", "--workers", "1"]
    return http_server(args, "/health")


def page_load(url: str, ready: str) -> float:
    """Seconds until `url` has loaded in Chromium and `ready` (a CSS selector) is visible."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(url)  # warm-up: caches, first query plans
        page.wait_for_selector(ready, timeout=60_000)
        times = []
        for _ in range(5):
            start = time.perf_counter()
            page.goto(url)
            page.wait_for_selector(ready, timeout=60_000)
            times.append(time.perf_counter() - start)
        browser.close()
    return statistics.median(times)


def measure(side: Any, calls: int, points: int, runs: int) -> dict[str, tuple[int, float]]:
    """Run the four measurements on `side`; return {name: (work units, seconds)}."""
    out = {
        "log_metric calls": (calls, timed(lambda: side.log_calls(calls))),
        "points in batches of 1,000": (points, timed(lambda: side.log_batches(points))),
        "runs with 10 params + 10 metrics": (runs, timed(lambda: side.create_runs(runs))),
    }
    assert side.search() == 20
    searches = [timed(side.search) for _ in range(20)]
    out["search 1 metric, order, limit 20"] = (1, statistics.median(searches))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--mlflow-scale", type=float, default=1.0)
    parser.add_argument(
        "--server",
        action="store_true",
        help="also mlcycle's server over PostgreSQL, and the runs page",
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    scale = args.mlflow_scale
    results: dict[str, dict[str, tuple[int, float]]] = {}
    pages: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "mlflow").mkdir()
        sides = {
            "MLflow": MlflowSide(Path(tmp) / "mlflow"),
            "mlcycle": MlcycleSide(Path(tmp) / "mlc"),
        }
        for name, side in sides.items():
            f = scale if name == "MLflow" else 1.0
            print(f"{name} {side.version}: measuring...", flush=True)
            results[name] = measure(
                side, int(args.calls * f), int(args.points * f) // BATCH * BATCH, int(args.runs * f)
            )
        if args.server:
            from mlcycle.tracking._http import HttpTrackingStore

            with mlflow_server(Path(tmp) / "mlflow" / "mlflow.db") as url:
                exp = sides["MLflow"].exp
                pages["MLflow"] = page_load(f"{url}/#/experiments/{exp}/runs", "text=matching runs")
            with mlcycle_server(Path(tmp) / "mlc", sides["mlcycle"].ws.db.url) as url:
                pages["mlcycle (SQLite)"] = page_load(f"{url}/?experiment=bench", "table tbody tr")
            with postgres_database() as db, mlcycle_server(Path(tmp) / "pg", db) as url:
                print("mlcycle server over PostgreSQL: measuring...", flush=True)
                side = MlcycleSide(Path(tmp) / "client", HttpTrackingStore(url))
                results["server"] = measure(
                    side, args.calls, args.points // BATCH * BATCH, int(args.runs * scale)
                )
                pages["mlcycle (server, PostgreSQL)"] = page_load(
                    f"{url}/?experiment=bench", "table tbody tr"
                )
    print(f"\n{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}")
    columns = [c for c in ("MLflow", "mlcycle", "server") if c in results]
    head = {
        "MLflow": "MLflow (SQLite)",
        "mlcycle": "mlcycle (SQLite)",
        "server": "mlcycle server (PostgreSQL)",
    }
    print("| operation | " + " | ".join(head[c] for c in columns) + " | speed-up (SQLite) |")
    print("|---" * (len(columns) + 2) + "|")
    for op in results["mlcycle"]:
        cells, rates = [], {}
        for c in columns:
            n, t = results[c][op]
            if op.startswith("search"):
                cells.append(f"{t * 1000:.1f} ms")
                rates[c] = 1 / t
            else:
                cells.append(f"{n:,} in {t:.2f} s = {n / t:,.0f}/s")
                rates[c] = n / t
        print(f"| {op} | " + " | ".join(cells) + f" | {rates['mlcycle'] / rates['MLflow']:.1f}x |")
    for name, seconds in pages.items():
        print(f"runs page in Chromium, {name}: {seconds * 1000:.0f} ms (median of 5)")


if __name__ == "__main__":
    main()
