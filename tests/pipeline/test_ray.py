"""The Ray executor on a real two-node local cluster (see `tests/ray_cluster.py`)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from mlcycle.core import Config, ConfigError, parse_config
from mlcycle.data import BIKE_SHARING_CSV, snapshot
from mlcycle.pipeline import (
    features_and_target,
    load_dag,
    run_pipeline,
    split_training_period,
    train_initial_model,
)
from mlcycle.pipeline._automl import study_name
from mlcycle.pipeline._executor import Executor, LocalExecutor, Resources, make_executor
from mlcycle.pipeline._runner import PipelineResult
from mlcycle.store import Workspace
from mlcycle.tracking import FINISHED, list_runs

pytestmark = pytest.mark.slow


def where_am_i(barrier: str, parties: int) -> str:
    """Join a file barrier of `parties` tasks, then return this task's Ray node id."""
    import ray

    Path(barrier, f"{os.getpid()}-{time.monotonic_ns()}").touch()
    deadline = time.monotonic() + 60
    while len(os.listdir(barrier)) < parties:  # all parties run at once, or none returns
        if time.monotonic() > deadline:
            raise TimeoutError("the other tasks never started")
        time.sleep(0.05)
    return str(ray.get_runtime_context().get_node_id())


def assigned_resources() -> dict[str, float]:
    import ray

    return dict(ray.get_runtime_context().get_assigned_resources())


def crash_once(marker: str) -> int:
    """Kill the worker process on the first attempt; return the worker's PID on the next."""
    if not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os._exit(1)
    return os.getpid()


def fail(message: str) -> None:
    raise ValueError(message)


def test_tasks_run_on_both_nodes(ray_cluster: str, tmp_path: Path) -> None:
    import ray

    executor = make_executor("ray", address=ray_cluster)
    assert executor.name == "ray"
    futures = [executor.submit(where_am_i, str(tmp_path), 2) for _ in range(2)]
    nodes = {f.result(timeout=120) for f in futures}
    assert nodes == {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len(nodes) == 2


def test_resources_reach_ray(ray_cluster: str) -> None:
    import ray

    executor = make_executor("ray", address=ray_cluster)
    declared = Resources(cpus=0.5, memory=50 * 2**20)
    assert executor.submit(assigned_resources, resources=declared).result(timeout=120) == {
        "CPU": 0.5,
        "memory": 50 * 2**20,
    }
    # no node has a GPU: the GPU task must wait while later CPU tasks run
    on_gpu = executor.submit(assigned_resources, resources=Resources(cpus=0, gpus=1))
    later = [executor.submit(assigned_resources) for _ in range(2)]
    assert [f.result(timeout=120) for f in later] == [{"CPU": 1.0}, {"CPU": 1.0}]
    assert not on_gpu.done()
    assert on_gpu.cancel()
    with pytest.raises(ray.exceptions.TaskCancelledError):  # cancelled in Ray too
        ray.get(on_gpu.object_ref, timeout=60)  # type: ignore[attr-defined]


def test_task_whose_worker_dies_is_retried(ray_cluster: str, tmp_path: Path) -> None:
    executor = make_executor("ray", address=ray_cluster)
    marker = tmp_path / "attempted"
    pid = executor.submit(crash_once, str(marker), max_retries=1).result(timeout=120)
    assert marker.exists()
    assert pid != int(marker.read_text())  # a new worker process ran the retry


def test_task_without_retries_fails_when_its_worker_dies(ray_cluster: str, tmp_path: Path) -> None:
    import ray

    executor = make_executor("ray", address=ray_cluster)
    future = executor.submit(crash_once, str(tmp_path / "attempted"), max_retries=0)
    with pytest.raises(ray.exceptions.WorkerCrashedError):
        future.result(timeout=120)


def test_task_exception_is_not_retried_and_keeps_its_type(ray_cluster: str) -> None:
    executor = make_executor("ray", address=ray_cluster)
    future = executor.submit(fail, "bad value in column 'temp'", max_retries=2)
    with pytest.raises(ValueError, match="bad value in column 'temp'"):
        future.result(timeout=120)


def test_unreachable_address_is_a_clear_error() -> None:
    with socket.socket() as sock:  # bound, not listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{sock.getsockname()[1]}"
        with pytest.raises(ConfigError, match=f"no Ray cluster answers at {address}"):
            make_executor("ray", address=address)
    with pytest.raises(ConfigError, match="not host:port"):
        make_executor("ray", address="head-node")


def test_address_of_another_service_is_a_clear_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:  # answers like Redis, not gRPC
        server.settimeout(30)
        address = f"127.0.0.1:{server.getsockname()[1]}"
        answer = threading.Thread(target=_answer_like_redis, args=(server,))
        answer.start()
        with pytest.raises(ConfigError, match=f"service at {address} is not a Ray cluster"):
            make_executor("ray", address=address)
        answer.join()


def _answer_like_redis(server: socket.socket) -> None:
    conn, _ = server.accept()
    with conn:
        conn.sendall(b"-ERR unknown command 'PRI'\r\n")


def test_parallel_automl_on_the_cluster(
    ray_cluster: str, workspace: Workspace, make_bike_config: Callable[..., Config]
) -> None:
    import optuna

    config = make_bike_config(automl={"trials": 4})  # linear and hgb
    frame, _ = split_training_period(pd.read_csv(BIKE_SHARING_CSV), config)
    dataset = snapshot(workspace, BIKE_SHARING_CSV, name="bike")
    executor = make_executor("ray", address=ray_cluster)
    trained = train_initial_model(workspace, config, frame, dataset, executor=executor)
    executor.shutdown()
    assert trained.result is not None
    parent = trained.version.run_id or ""
    trials = list_runs(workspace, parent_id=parent)
    assert sorted(t.name for t in trials) == [f"trial-{i}" for i in range(4)]
    assert all(t.status == FINISHED and set(t.metrics) == {"val_mae", "val_rmse"} for t in trials)
    storage = optuna.storages.RDBStorage(workspace.db.url)
    try:
        study = optuna.load_study(study_name=study_name(parent), storage=storage)
        assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
        assert study.best_value == min(t.metrics["val_mae"] for t in trials)
        assert study.best_trial.user_attrs["run_id"] in {t.id for t in trials}
    finally:
        storage.engine.dispose()
    # sane: far better than predicting the mean count of the training period
    data = features_and_target(frame, config.require_data())
    baseline = float((data.y - data.y.mean()).abs().mean())
    assert 0 < study.best_value < 0.8 * baseline
    assert 0 < trained.result.holdout["mae"] < baseline


PIPELINE = """
import mlcycle


@mlcycle.step
def load(n: int = 4) -> list:
    return list(range(n))


@mlcycle.step
def square(xs: list) -> list:
    return [x * x for x in xs]


@mlcycle.step
def total(xs: list) -> dict:
    return {"total": sum(xs)}


@mlcycle.pipeline
def flow(n: int = 4):
    total(square(load(n)))
"""


def _run_flow(root: Path, executor: Executor) -> PipelineResult:
    ws = Workspace(root, parse_config({"experiment": "pipe"}))
    try:
        dag, name = load_dag(ws.root, ws.config)
        return run_pipeline(ws, dag, name=name, executor=executor)
    finally:
        ws.close()


def test_pipeline_on_the_cluster_is_cached_for_the_local_executor(
    ray_cluster: str, tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "pipeline.py").write_text(PIPELINE)
    on_ray = _run_flow(root, make_executor("ray", address=ray_cluster))
    steps = ("load", "square", "total")
    assert {s.name: s.status for s in on_ray.steps} == dict.fromkeys(steps, "ran")
    local = LocalExecutor(1)
    try:
        again = _run_flow(root, local)
    finally:
        local.shutdown()
    assert {s.name: s.status for s in again.steps} == dict.fromkeys(steps, "cached")
    assert [(s.key, s.run_id) for s in again.steps] == [(s.key, s.run_id) for s in on_ray.steps]
    assert all(s.key for s in on_ray.steps)
