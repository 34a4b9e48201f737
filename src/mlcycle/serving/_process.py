"""Running the model server: in this process (uvicorn) or as a child process.

The server binds its own socket (port 0 = a free port chosen by the OS)
and writes the port to a file once bound, so a parent never races for a
port; the parent then polls `/v2/health/ready` until a deadline.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from mlcycle.core import ServingError, atomic_write_text, new_id
from mlcycle.serving._app import create_app
from mlcycle.serving._holder import ModelHolder
from mlcycle.store import Workspace


def serve(
    ws: Workspace,
    ref: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    port_file: Path | None = None,
    poll_seconds: float = 0.5,
) -> None:
    """Serve model `ref` (`NAME@ALIAS`) until interrupted (blocking).

    Raises:
        ModelNotFound: if the model or alias does not exist.
        OSError: if the address is taken.
    """
    import uvicorn

    holder = ModelHolder(ws, ref)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    if port_file is not None:
        atomic_write_text(port_file, str(bound))
    print(f"Serving {ref} (version {holder.current.version}) on http://{host}:{bound}", flush=True)
    app = create_app(holder, poll_seconds=poll_seconds)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


@dataclass
class ServerProcess:
    """A model server running as a child process; stop it with :meth:`stop`."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to shut down gracefully (SIGTERM), then kill it if it hangs."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait_ready(proc: subprocess.Popen[bytes], port_file: Path, log: Path, deadline: float) -> str:
    url = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            raise ServingError(f"model server exited with code {proc.returncode}: {tail[0]}")
        if not url and port_file.exists():
            url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        if url:
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=1.0).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
        time.sleep(0.05)
    raise ServingError(f"model server not ready within the deadline; see {log}")


def start_server_process(ws: Workspace, ref: str, *, timeout: float = 60.0) -> ServerProcess:
    """Start `mlcycle serve REF` for workspace `ws` on 127.0.0.1 and a free port.

    Returns once `/v2/health/ready` answers 200. The server's output goes
    to `.mlcycle/logs/server-<id>.log`.

    Raises:
        ServingError: if the server exits or is not ready within `timeout` seconds.
    """
    logs = ws.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    run_id = new_id()[:8]
    port_file, log_path = logs / f"server-{run_id}.port", logs / f"server-{run_id}.log"
    cmd = [
        sys.executable,
        "-m",
        "mlcycle",
        "--workspace",
        str(ws.root),
        "serve",
        ref,
        "--port",
        "0",
        "--port-file",
        str(port_file),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        url = _wait_ready(proc, port_file, log_path, time.monotonic() + timeout)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return ServerProcess(proc, url, log_path)
