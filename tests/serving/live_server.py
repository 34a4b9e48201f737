"""A real model server in this process: uvicorn (HTTP) + grpc.aio on free ports of 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import uvicorn

from mlcycle.serving import ModelHolder, create_app
from mlcycle.serving._grpc import add_grpc
from mlcycle.store import Workspace


@dataclass(frozen=True)
class LiveServer:
    """Where the running server answers: `http_url` and the gRPC `grpc_target` (host:port)."""

    http_url: str
    grpc_target: str


@contextmanager
def live_server(ws: Workspace, ref: str, deadline_s: float = 60.0) -> Iterator[LiveServer]:
    """Serve `ref` over HTTP and gRPC in a background thread; stop it on exit."""
    grpc_port: list[int] = []
    app = create_app(ModelHolder(ws, ref))
    add_grpc(app, "127.0.0.1", 0, grpc_port.append)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_ready(url, time.monotonic() + deadline_s)
        yield LiveServer(url, f"127.0.0.1:{grpc_port[0]}")
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def _wait_ready(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"server at {url} not ready before the deadline")
