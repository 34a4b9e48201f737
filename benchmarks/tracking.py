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
import logging
import os
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    scale = args.mlflow_scale
    results: dict[str, dict[str, tuple[int, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sides = {
            "MLflow": MlflowSide(Path(tmp) / "mlflow"),
            "mlcycle": MlcycleSide(Path(tmp) / "mlc"),
        }
        (Path(tmp) / "mlflow").mkdir(exist_ok=True)
        for name, side in sides.items():
            f = scale if name == "MLflow" else 1.0
            print(f"{name} {side.version}: measuring...", flush=True)
            results[name] = measure(
                side, int(args.calls * f), int(args.points * f) // BATCH * BATCH, int(args.runs * f)
            )
    print(f"\n{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print("| operation | MLflow | mlcycle | speed-up |\n|---|---|---|---|")
    for op in results["mlcycle"]:
        (n_f, t_f), (n_m, t_m) = results["MLflow"][op], results["mlcycle"][op]
        if op.startswith("search"):
            print(f"| {op} | {t_f * 1000:.1f} ms | {t_m * 1000:.1f} ms | {t_f / t_m:.1f}x |")
        else:
            rate_f, rate_m = n_f / t_f, n_m / t_m
            print(
                f"| {op} | {n_f:,} in {t_f:.2f} s = {rate_f:,.0f}/s | "
                f"{n_m:,} in {t_m:.2f} s = {rate_m:,.0f}/s | {rate_m / rate_f:.1f}x |"
            )


if __name__ == "__main__":
    main()
