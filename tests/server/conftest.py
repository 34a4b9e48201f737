"""Fixtures for the team server: real uvicorn servers on 127.0.0.1 and a free port.

`server` runs the app in a thread of this process (fast; the client talks
to it over real TCP). `start_server_process` runs `mlcycle server` as a
child process, for tests that measure it or need the CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from tests.conftest import bike_config

from mlcycle.server import bind, create_app, url_of
from mlcycle.store import Workspace
from mlcycle.tracking import _http

#: Runs the CLI with `mlcycle server` registered even before `cli/_main.py` lists it.
CLI_ENTRY = (
    "from mlcycle.cli import _main, _server; app = _main.build_app('server'); "
    "'server' in _main._COMMAND_MODULES or _server.register(app); _main.main()"
)


def wait_healthy(
    url: str, deadline_seconds: float = 30.0, alive: Callable[[], bool] = bool
) -> None:
    """Poll `GET /api/health` until it answers 200 (fails the test at the deadline)."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if not alive():
            break
        time.sleep(0.02)
    pytest.fail(f"server at {url} did not become healthy")


@dataclass
class ThreadServer:
    """A uvicorn server running `app` in a daemon thread."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def start_thread_server(app: Any) -> ThreadServer:
    """Serve the ASGI `app` on 127.0.0.1 and a free port from a thread; return once healthy."""
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = url_of(sock)
    wait_healthy(url, alive=thread.is_alive)
    return ThreadServer(url, server, thread)


@pytest.fixture(autouse=True)
def _close_http_stores() -> Iterator[None]:
    """Close the per-URL stores `MLCYCLE_TRACKING_URI` made (their connections, their writers)."""
    yield
    for store in list(_http._STORES.values()):
        store.close()
    _http._STORES.clear()


@pytest.fixture
def http_store() -> Iterator[Callable[..., _http.HttpTrackingStore]]:
    """Make HTTP tracking stores with fast retries: `http_store(url, **options)`; closed after."""
    made: list[_http.HttpTrackingStore] = []

    def make(url: str, **options: Any) -> _http.HttpTrackingStore:
        made.append(_http.HttpTrackingStore(url, **{"retries": 2, "backoff": 0.01, **options}))
        return made[-1]

    yield make
    for store in made:
        store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def server_ws(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """The server's workspace: SQLite, then PostgreSQL (fresh database)."""
    overrides: dict[str, object] = {}
    if request.param == "postgresql":
        overrides["db_url"] = request.getfixturevalue("postgres_url")
    ws = Workspace(tmp_path / "server-ws", bike_config(**overrides))
    yield ws
    ws.close()


@pytest.fixture
def server(server_ws: Workspace) -> Iterator[str]:
    """The URL of a team server over `server_ws`, running in this process."""
    running = start_thread_server(create_app(server_ws))
    yield running.url
    running.stop()


@pytest.fixture
def thread_server() -> Iterator[Callable[[Any], ThreadServer]]:
    """Start any ASGI app (e.g. a faulty wrapper) as a server: `thread_server(app).url`."""
    started: list[ThreadServer] = []

    def start(app: Any) -> ThreadServer:
        started.append(start_thread_server(app))
        return started[-1]

    yield start
    for s in started:
        s.stop()


@dataclass
class ServerProcess:
    """`mlcycle server` as a child process."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def cli_command(workspace: Path, *args: str) -> list[str]:
    """The argv of `mlcycle --workspace WS ARGS...` (with `server` registered)."""
    return [sys.executable, "-c", CLI_ENTRY, "--workspace", str(workspace), *args]


@pytest.fixture
def start_server_process(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start `mlcycle server --port 0 [ARGS...]` for a workspace; stopped (by PID) afterwards."""
    started: list[ServerProcess] = []

    def start(workspace: Path, *args: str) -> ServerProcess:
        port_file, log = tmp_path / f"port-{len(started)}", tmp_path / f"server-{len(started)}.log"
        cmd = cli_command(workspace, "server", "--port", "0", "--port-file", str(port_file), *args)
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "MLCYCLE_TRACKING_URI": ""},
            )
        deadline = time.monotonic() + 60
        while not port_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if not port_file.exists():
            proc.kill()
            proc.wait()
            pytest.fail(f"mlcycle server did not start: {log.read_text(errors='replace')}")
        running = ServerProcess(proc, f"http://127.0.0.1:{port_file.read_text()}", log)
        started.append(running)
        wait_healthy(running.url, alive=lambda: proc.poll() is None)
        return running

    yield start
    for s in started:
        s.stop()
