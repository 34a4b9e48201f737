"""The background writer: buffering, timed flushes, crashes, several processes, odd input."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mlcycle.core import InputError, MlcycleError, new_id, now, parse_config
from mlcycle.store import Workspace
from mlcycle.tracking import (
    MetricColumns,
    Run,
    RunBatch,
    attach_run,
    get_run,
    metric_keys,
    metric_series,
    start_run,
    store_for,
)


def _ws(root: Path, interval: float = 3600.0, **tracking: object) -> Workspace:
    return Workspace(root, parse_config({"tracking": {"flush_interval": interval, **tracking}}))


@pytest.fixture
def slow_ws(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace whose writer only flushes when asked (an hour between timed flushes)."""
    ws = _ws(tmp_path / "ws")
    yield ws
    ws.close()


def _points(ws: Workspace, run_id: str, key: str) -> int:
    return len(metric_series(ws, run_id, key))


def test_logging_is_buffered_until_a_flush(slow_ws: Workspace) -> None:
    run = start_run(slow_ws)
    for step in range(100):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    run.log_param("lr", 0.1)
    assert _points(slow_ws, run.id, "loss") == 0  # nothing written yet
    run.flush()
    assert _points(slow_ws, run.id, "loss") == 100
    assert get_run(slow_ws, run.id).params == {"lr": "0.1"}
    run.end()


def test_timed_flush_writes_without_being_asked(tmp_path: Path) -> None:
    ws = _ws(tmp_path / "ws", interval=0.05)
    run = start_run(ws)
    run.log_metric("loss", 0.5)
    deadline = time.monotonic() + 30
    while _points(ws, run.id, "loss") == 0:
        assert time.monotonic() < deadline, "the timed flush never came"
        time.sleep(0.02)
    run.end()
    ws.close()


def test_closing_the_workspace_flushes(tmp_path: Path) -> None:
    ws = _ws(tmp_path / "ws")
    run = start_run(ws)
    run.log_metric("loss", 0.5)
    ws.close()
    with _ws(tmp_path / "ws") as again:
        assert _points(again, run.id, "loss") == 1


def test_series_and_batches_round_trip(any_workspace: Workspace) -> None:
    ws = any_workspace
    values = np.random.default_rng(0).normal(size=100_000)
    with start_run(ws) as run:
        run.log_series("loss", values)
        run.log_batch(
            [("acc", 0.5, 0), ("acc", 0.75, 1, 123.0)], params={"lr": 0.1}, tags={"phase": "x"}
        )
    series = metric_series(ws, run.id, "loss")
    assert series.steps.tolist() == list(range(100_000))
    np.testing.assert_array_equal(series.values, values)
    acc = metric_series(ws, run.id, "acc")
    assert acc.values.tolist() == [0.5, 0.75] and acc.timestamps[1] == 123.0
    record = get_run(ws, run.id)
    assert record.metrics == {"loss": values[-1], "acc": 0.75}
    assert record.params == {"lr": "0.1"} and record.tags == {"phase": "x"}
    with start_run(ws) as bad, pytest.raises(InputError, match="3 values but 2 steps"):
        bad.log_series("x", [1.0, 2.0, 3.0], steps=[0, 1])


def test_latest_value_only_moves_forward_across_flushes(slow_ws: Workspace) -> None:
    with start_run(slow_ws) as run:
        run.log_metric("loss", 0.1, step=10)
        run.flush()
        run.log_metric("loss", 0.9, step=3)  # an older step logged later
    assert get_run(slow_ws, run.id).metrics == {"loss": 0.1}
    assert metric_series(slow_ws, run.id, "loss").steps.tolist() == [3, 10]


def test_retried_batch_is_applied_once(any_workspace: Workspace) -> None:
    store = store_for(any_workspace)
    with start_run(any_workspace) as run:
        pass
    batch = RunBatch(run.id, metrics={"m": MetricColumns([0], [1.0], [now()])}, id=new_id())
    store.write([batch])
    store.write([batch])  # e.g. the response of the first upload was lost
    assert _points(any_workspace, run.id, "m") == 1


@pytest.mark.parametrize("key", ["val loss", "train/loss", "a.b-c_d", "ünï cødé", "x" * 250])
def test_odd_but_printable_keys_work(slow_ws: Workspace, key: str) -> None:
    with start_run(slow_ws) as run:
        run.log_metric(key, 1.0)
        run.log_param(key, "v")
        run.set_tag(key, "t")
    record = get_run(slow_ws, run.id)
    assert (
        record.metrics == {key: 1.0} and record.params == {key: "v"} and record.tags == {key: "t"}
    )


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "non-empty"),
        ("  ", "non-empty"),
        ("a\nb", "control character"),
        ("y" * 251, "at most 250"),
    ],
)
def test_bad_keys_are_refused_naming_the_key(slow_ws: Workspace, key: str, message: str) -> None:
    with start_run(slow_ws) as run:
        for log in (lambda: run.log_metric(key, 1.0), lambda: run.log_param(key, 1)):
            with pytest.raises(InputError, match=message):
                log()


def test_param_changed_by_another_process_is_reported_at_flush(slow_ws: Workspace) -> None:
    with start_run(slow_ws) as run:
        run.log_param("lr", 0.1)
        run.flush()
        other = attach_run(slow_ws, run.id)  # as a worker process would
        other.log_param("lr", 0.2)
        other.log_metric("loss", 1.0)
        with pytest.raises(InputError, match=r"Param 'lr' .* was logged as '0\.1'; cannot change"):
            other.flush()
    record = get_run(slow_ws, run.id)
    assert record.params == {"lr": "0.1"} and record.metrics == {"loss": 1.0}  # the rest landed


def test_writing_to_a_missing_run_is_reported(slow_ws: Workspace) -> None:
    ghost = Run(store_for(slow_ws), "0" * 32, "default")
    ghost.log_metric("loss", 1.0)
    with pytest.raises(MlcycleError, match=r"Run '0{32}' does not exist"):
        ghost.flush()
    with pytest.raises(MlcycleError, match="does not exist"):
        attach_run(slow_ws, "0" * 32)


def test_system_metrics_are_sampled(tmp_path: Path) -> None:
    ws = _ws(tmp_path / "ws", system_metrics=True, system_metrics_interval=0.05)
    with start_run(ws) as run:
        time.sleep(0.3)
    keys = metric_keys(ws, run.id)
    assert {"system/cpu_utilization_percentage", "system/process_memory_rss_megabytes"} <= set(keys)
    rss = metric_series(ws, run.id, "system/process_memory_rss_megabytes")
    assert len(rss) >= 2 and (rss.values > 1).all()  # megabytes
    ws.close()


_WORKER = """
import sys
from pathlib import Path
from mlcycle.core import parse_config
from mlcycle.store import Workspace
from mlcycle.tracking import attach_run
root, run_id, worker = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ws = Workspace(root, parse_config({"tracking": {"flush_interval": 0.01}}))
with attach_run(ws, run_id) as run:
    for step in range(2000):
        run.log_metric("loss", float(worker), step=step)
        run.log_metric(f"worker_{worker}", float(step), step=step)
ws.close()
"""


def test_several_processes_log_to_one_run(tmp_path: Path) -> None:
    ws = _ws(tmp_path / "ws")
    with start_run(ws) as run:
        workers = [
            subprocess.Popen([sys.executable, "-c", _WORKER, str(ws.root), run.id, str(i)])
            for i in range(4)
        ]
        assert [w.wait(timeout=300) for w in workers] == [0, 0, 0, 0]
    loss = metric_series(ws, run.id, "loss")
    assert len(loss) == 8000
    assert sorted(np.unique(loss.values).tolist()) == [0.0, 1.0, 2.0, 3.0]
    for i in range(4):
        assert metric_series(ws, run.id, f"worker_{i}").values.tolist() == list(range(2000))
    assert get_run(ws, run.id).status == "FINISHED"
    ws.close()


_CRASHER = """
import sys, time
from pathlib import Path
from mlcycle.core import parse_config
from mlcycle.store import Workspace
from mlcycle.tracking import start_run
ws = Workspace(Path(sys.argv[1]), parse_config({"tracking": {"flush_interval": 0.05}}))
run = start_run(ws)
print(run.id, flush=True)
for step in range(1000):
    run.log_metric("loss", 1.0, step=step)
sys.stdin.readline()  # the parent saw the first 1,000 points land
for step in range(1000, 100_000_000):
    run.log_metric("loss", 1.0, step=step)
"""


def test_kill_9_keeps_a_consistent_prefix(tmp_path: Path) -> None:
    ws = _ws(tmp_path / "ws")
    child = subprocess.Popen(
        [sys.executable, "-c", _CRASHER, str(ws.root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdin is not None
    run_id = child.stdout.readline().strip()
    deadline = time.monotonic() + 60
    while _points(ws, run_id, "loss") < 1000:  # the timed flush, nobody asked for it
        assert time.monotonic() < deadline
        time.sleep(0.02)
    child.stdin.write("go\n")
    child.stdin.flush()
    time.sleep(0.5)  # logging at full speed, with timed flushes under way
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    child.stdin.close()
    child.stdout.close()
    steps = metric_series(ws, run_id, "loss").steps
    assert len(steps) >= 1000
    np.testing.assert_array_equal(steps, np.arange(len(steps)))  # no holes, no half chunk
    assert get_run(ws, run_id).status == "RUNNING"
    ws.close()
    db = sqlite3.connect(ws.state_dir / "mlcycle.db")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_child_does_not_resend_the_parents_buffer(slow_ws: Workspace) -> None:
    with start_run(slow_ws) as run:
        run.log_metric("loss", 1.0)
        pid = os.fork()
        if pid == 0:  # the child flushes what it has: nothing of the parent's
            try:
                run.flush()
            finally:
                os._exit(0)
        assert os.waitpid(pid, 0)[1] == 0
    assert _points(slow_ws, run.id, "loss") == 1


def test_log_batch_groups_mixed_keys_and_names_a_bad_value(slow_ws: Workspace) -> None:
    with start_run(slow_ws) as run:
        run.log_batch([("a", 1, 0), ("b", 2.5, 0), ("a", 3, 1, 50.0), ("b", 4, 1)])
        with pytest.raises(InputError, match="Metric 'c' must be a number; got 'x'"):
            run.log_batch([("c", "x", 0)])  # type: ignore[list-item]
    a, b = metric_series(slow_ws, run.id, "a"), metric_series(slow_ws, run.id, "b")
    assert a.values.tolist() == [1.0, 3.0] and a.timestamps[1] == 50.0
    assert b.steps.tolist() == [0, 1] and b.values.tolist() == [2.5, 4.0]
    assert "c" not in get_run(slow_ws, run.id).metrics
