"""Running the team server with uvicorn on a socket it binds itself.

Binding first (port 0 = a free port chosen by the OS) lets the server
print and write the real port before it answers, so a parent process
never races for a port: it reads the port file, then polls `/api/health`.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from mlcycle.core import atomic_write_text
from mlcycle.server._app import create_app
from mlcycle.store import Workspace


def bind(host: str, port: int) -> socket.socket:
    """Return a TCP socket bound to `host:port` (0: a free port), ready for uvicorn.

    Raises:
        OSError: if the address is taken or not local.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def url_of(sock: socket.socket) -> str:
    """The `http://host:port` URL a bound socket answers on."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(
    ws: Workspace,
    *,
    host: str = "127.0.0.1",
    port: int = 5000,
    port_file: Path | None = None,
    log_level: str = "info",
    loop: bool = True,
) -> None:
    """Serve the REST API (and UI) of `ws` until interrupted (blocking).

    Prints the URL once bound; writes the bound port to `port_file` if given.
    With `loop` and a `loop.policy` in the config, the loop controller runs
    in a background thread too (stopped, and its lease released, on exit).

    Raises:
        OSError: if the address is taken.
        MlcycleError: if the database cannot be opened.
    """
    import uvicorn

    ws.db  # open and migrate the database now: fail before announcing the URL  # noqa: B018
    sock = bind(host, port)
    if port_file is not None:
        atomic_write_text(port_file, str(sock.getsockname()[1]))
    print(f"mlcycle server on {url_of(sock)} (API docs at {url_of(sock)}/docs)", flush=True)
    config = uvicorn.Config(create_app(ws), log_level=log_level)
    controller = _start_loop(ws) if loop else None
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        if controller is not None:
            controller[1].set()
            controller[0].join(timeout=30.0)


def _start_loop(ws: Workspace) -> tuple[threading.Thread, threading.Event] | None:
    if ws.config.loop.policy is None:
        return None
    from mlcycle.loop import Controller, start_controller_thread

    controller = Controller(ws, ws.config)
    print(f"loop controller on {controller.model} ({controller.policy.schedule})", flush=True)
    return start_controller_thread(controller)
