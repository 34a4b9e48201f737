"""A real local Ray cluster (head + one worker node) for the tests, shared by the session.

The cluster is started with the `ray` CLI on free ports (6379 is Redis on
the development machines), in a short temp dir (Ray's Unix sockets live
there and their paths are limited to about 107 bytes). It is stopped by
killing exactly the processes it started, by process group and PID: `ray
stop` would kill every Ray process of this user on the machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0"}
_TAKEN = {5432, 3306, 6379, 5672, 1883, 4222}
_WORKER_PORTS = 24  # worker processes per node, each on its own port
_START_TIMEOUT = 90.0  # seconds for both nodes to join (2 shared cores)


def _free_port() -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _TAKEN:
            return port


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_range(size: int, avoid: set[int]) -> tuple[int, int]:
    """A run of `size` free ports below the ephemeral range (so bind(0) never takes them)."""
    # spread by PID so two sessions on one machine rarely probe the same ports
    for base in range(20000 + os.getpid() % 400 * size, 32000, size):
        ports = range(base, base + size)
        if not avoid.intersection(ports) and all(_is_free(p) for p in ports):
            avoid.update(ports)
            return base, base + size - 1
    raise RuntimeError("no free port range for Ray workers")


def _node_ports(used: set[int]) -> list[str]:
    low, high = _free_range(_WORKER_PORTS, used)
    names = ["node-manager", "object-manager", "dashboard-agent-listen", "dashboard-agent-grpc"]
    names += ["runtime-env-agent", "metrics-export"]
    ports = [f"--{name}-port={_free_port()}" for name in names]
    return [*ports, f"--min-worker-port={low}", f"--max-worker-port={high}"]


def _ray_start(args: list[str]) -> int:
    """Run `ray start ARGS` in a new session; return its process group id."""
    proc = subprocess.Popen(
        ["ray", "start", "--num-cpus=1", "--disable-usage-stats", *args],
        env={**os.environ, **_RAY_ENV},
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out, _ = proc.communicate(timeout=_START_TIMEOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"ray start failed:\n{out[-3000:]}")
    return proc.pid


def _processes_of(groups: set[int]) -> set[int]:
    """PIDs in the process groups `groups` and all their descendants (Ray workers setsid)."""
    parents: dict[int, int] = {}
    members: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid, pgid = int(entry.name), int(fields[1]), int(fields[2])
        parents[pid] = ppid
        if pgid in groups and fields[0] != "Z":
            members.add(pid)
    grown = True
    while grown:
        children = {p for p, pp in parents.items() if pp in members} - members
        members |= children
        grown = bool(children)
    return members


def _kill(pids: set[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _stop_cluster(groups: set[int]) -> None:
    """SIGKILL what the cluster started (as `ray stop --force` would), then wait until gone."""
    deadline = time.monotonic() + 30
    while (alive := _processes_of(groups)) and time.monotonic() < deadline:
        _kill(alive, signal.SIGKILL)
        time.sleep(0.1)


def _wait_for_nodes(count: int) -> None:
    import ray

    deadline = time.monotonic() + _START_TIMEOUT
    while sum(n["Alive"] for n in ray.nodes()) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Ray cluster did not reach {count} alive nodes")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """A local Ray cluster of two nodes with 1 CPU each; yields its address `127.0.0.1:PORT`.

    This process stays connected to it for the session (a second connect
    costs seconds); executors made in tests reuse that connection.
    """
    pytest.importorskip("ray", reason="needs the ray extra: pip install 'mlcycle[ray]'")
    from mlcycle.pipeline._ray import RayExecutor

    temp = tempfile.mkdtemp(prefix="mlr", dir="/tmp")  # short: Unix socket path limit
    used: set[int] = set()
    port = _free_port()
    address = f"127.0.0.1:{port}"
    groups: set[int] = set()
    executor = None
    try:
        head = ["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}"]
        head += [f"--ray-client-server-port={_free_port()}", f"--dashboard-port={_free_port()}"]
        groups.add(_ray_start([*head, *_node_ports(used)]))
        groups.add(_ray_start([f"--address={address}", *_node_ports(used)]))
        executor = RayExecutor(address)
        _wait_for_nodes(2)
        yield address
    finally:
        if executor is not None:
            executor.shutdown()
        _stop_cluster(groups)
        shutil.rmtree(temp, ignore_errors=True)
