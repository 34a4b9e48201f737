"""`mlcycle server` as a real process: start-up, the CLI against it, a 200 MB streamed upload."""

from __future__ import annotations

import json
import os
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

import mlcycle
from mlcycle.core import hash_file, parse_config
from mlcycle.store import Workspace
from mlcycle.tracking import get_run
from mlcycle.tracking._http import HttpTrackingStore

pytestmark = pytest.mark.slow

MiB = 1 << 20


@pytest.mark.postgres
def test_server_over_postgres_and_the_cli_against_it(
    tmp_path: Path,
    postgres_url: str,
    start_server_process: Callable[..., Any],
    cli: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    objects = tmp_path / "objects"
    server = start_server_process(
        tmp_path / "server", "--db", postgres_url, "--objects", f"file://{objects}"
    )
    printed = server.log.read_text()
    assert f"mlcycle server on {server.url}" in printed
    assert "Database: postgresql+psycopg://" in printed
    monkeypatch.setenv("MLCYCLE_TRACKING_URI", server.url)
    for i in range(3):
        with mlcycle.start_run(experiment="cli", name=f"run-{i}") as run:
            run.log_metric("mae", 10.0 - i)
            run.log_param("model", "hgb")
    env = {"MLCYCLE_TRACKING_URI": server.url}
    client_ws = tmp_path / "client"  # never created: the commands read the server
    out = cli(
        client_ws,
        "runs",
        "search",
        "metrics.mae < 10",
        "--order-by",
        "metrics.mae",
        "--json",
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert [r["name"] for r in json.loads(out.stdout)["runs"]] == ["run-2", "run-1"]
    table = cli(client_ws, "runs", "search", "params.model = 'hgb'", "--limit", "2", env=env)
    assert table.returncode == 0 and "run-2" in table.stdout and "--offset 2" in table.stdout
    bad = cli(client_ws, "runs", "search", "metrics.mae <<< 1", env=env)
    assert bad.returncode == 2 and "position" in bad.stderr and bad.stderr.count("\n") == 1
    missing = cli(client_ws, "runs", "show", "0" * 32, env=env)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    shown = cli(client_ws, "runs", "show", run.id[:8], env=env)
    assert shown.returncode == 0 and "run-2" in shown.stdout
    assert not client_ws.exists()
    with Workspace(tmp_path / "reader", parse_config({"db_url": postgres_url})) as ws:
        assert get_run(ws, run.id).metrics == {"mae": 8.0}


def _hwm(pid: int) -> int | None:
    """The peak resident set size of process `pid` in bytes (Linux), else None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class PeakRss:
    """Samples a process's RSS every 5 ms in a thread; `peak` is the largest seen."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, _hwm(self.process.pid) or 0)


def test_large_upload_streams_through_the_server(
    tmp_path: Path, start_server_process: Callable[..., Any]
) -> None:
    size = 200 * MiB
    server = start_server_process(tmp_path / "server")
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:  # mostly sparse, with some real bytes to hash
        f.write(os.urandom(MiB))
        f.truncate(size)
    oid = hash_file(big)
    store = HttpTrackingStore(server.url)
    try:
        httpx.get(f"{server.url}/api/experiments")  # warm up: imports, database
        before = psutil.Process(server.process.pid).memory_info().rss
        watch = PeakRss(server.process.pid)
        tracemalloc.start()
        started = time.monotonic()
        assert store.put_artifact(big) == (oid, size)
        elapsed = time.monotonic() - started
        client_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        growth = watch.stop() - before
    finally:
        store.close()
    assert growth < 40 * MiB, f"server RSS grew by {growth / MiB:.0f} MiB for a 200 MiB upload"
    assert client_peak < 16 * MiB, f"client held {client_peak / MiB:.0f} MiB"
    stored = tmp_path / "server" / ".mlcycle" / "objects" / oid[:2] / oid[2:]
    assert stored.stat().st_size == size and hash_file(stored) == oid
    assert httpx.head(f"{server.url}/api/objects/{oid}").status_code == 200
    assert list((tmp_path / "server" / ".mlcycle" / "uploads").iterdir()) == []
    print(f"200 MiB upload: {elapsed:.2f} s, server RSS +{growth / MiB:.1f} MiB")
