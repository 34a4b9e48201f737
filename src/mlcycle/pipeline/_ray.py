"""The Ray executor: pipeline steps and AutoML trials as tasks on a Ray cluster.

Needs the optional extra `mlcycle[ray]`; Ray is imported when the executor
is made, never at `import mlcycle`. Workers import mlcycle and the task's
module themselves, so every node needs the same Python environment (on one
machine it is shared). Results travel back through Ray, but they are small
by contract: step outputs go through mlcycle's object store, whose URL every
node must reach, so caching and lineage are the same as with `local`.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from contextlib import suppress
from typing import Any, TypeVar

from mlcycle.core import ConfigError
from mlcycle.pipeline._executor import Resources

R = TypeVar("R")

#: Seconds to wait for the cluster's GCS port to connect and answer.
CONNECT_TIMEOUT = 5.0
# The HTTP/2 client preface and an empty SETTINGS frame (RFC 9113 3.4, 6.5).
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_H2_SETTINGS = 0x04  # frame type of the server's first frame
_HINT = "start one with `ray start --head --port=PORT` or fix --address"


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("the ray executor needs Ray: pip install 'mlcycle[ray]'") from None
    return ray


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size and (chunk := sock.recv(size - len(data))):
        data += chunk
    return data


def _check_reachable(address: str) -> None:
    """Fail fast unless a gRPC server (Ray's GCS) answers at `HOST:PORT`.

    `auto` and `ray://` addresses are left to Ray. The probe sends the
    HTTP/2 client preface and expects the server's SETTINGS frame (RFC 9113,
    section 3.4): Ray itself would retry a silent or foreign port (say
    Redis on 6379, Ray's default port) for minutes.

    Raises:
        ConfigError: if the address is malformed, refuses or ignores
            connections for :data:`CONNECT_TIMEOUT` seconds, or is not gRPC.
    """
    if address == "auto" or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"Ray address {address!r} is not host:port (or 'auto'); {_HINT}")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT) as sock:
            sock.sendall(_H2_PREFACE)
            head = _read(sock, 9)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ConfigError(f"no Ray cluster answers at {address} ({reason}); {_HINT}") from None
    if len(head) < 4 or head[3] != _H2_SETTINGS:
        raise ConfigError(f"the service at {address} is not a Ray cluster; {_HINT}")


class RayExecutor:
    """Runs each task as a Ray task with declared resources on a running cluster.

    Contract (see :class:`mlcycle.pipeline._executor.Executor`): `submit`
    returns at once with a :class:`concurrent.futures.Future`; the future
    raises the task's own exception (Ray's `RayTaskError` subclasses it),
    or a `ray.exceptions.RayError` such as `WorkerCrashedError` when the
    task's worker died more often than it may be retried. Cancelling the
    future cancels the Ray task.

    Retries (Ray docs, "Fault tolerance / Task retries"): `max_retries` is
    how many times Ray reruns a task whose worker process or node died.
    A task that raises is not rerun (Ray's `retry_exceptions` stays off),
    so a failing step fails once, with its own error. Tasks must therefore
    be safe to rerun: mlcycle's steps write content-addressed objects, so
    a rerun writes the same bytes.

    Resources: `cpus` and `gpus` become `num_cpus`/`num_gpus` and `memory`
    (bytes) Ray's `memory` resource; a task waits until a node has them
    free, and one that no node can ever offer stays pending.

    Args:
        address: the cluster's GCS address `HOST:PORT`, `ray://HOST:PORT`
            (Ray client), or None/`auto` for the cluster started on this
            machine. A concrete address is always probed; if this process is
            already connected to Ray (a Ray job, a test session), that
            connection is used and left open on :meth:`shutdown`.

    Raises:
        ConfigError: if Ray is not installed or the cluster cannot be reached.
    """

    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        self._ray = _import_ray()
        self._remote: dict[Callable[..., Any], Any] = {}
        self._owns_ray = False
        _check_reachable(address or "auto")  # even when connected: a typo must not pass
        if not self._ray.is_initialized():
            self._connect(address or "auto")

    def _connect(self, address: str) -> None:
        try:
            self._ray.init(
                address=address,
                include_dashboard=False,
                logging_level=logging.WARNING,
                log_to_driver=False,  # task output stays in the cluster's logs
            )
        except (ConnectionError, RuntimeError, ValueError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            message = f"cannot connect to the Ray cluster at {address}: {first}; {_HINT}"
            raise ConfigError(message) from None
        self._owns_ray = True

    @property
    def parallelism(self) -> int:
        """The cluster's CPU count: how many one-CPU tasks can run at once."""
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def submit(
        self,
        fn: Callable[..., R],
        *args: Any,
        resources: Resources = Resources(),
        max_retries: int = 0,
    ) -> Future[R]:
        """Start `fn(*args)` as a Ray task needing `resources`; rerun up to `max_retries`
        times if its worker dies.

        `fn` must be a module-level function importable on the workers.
        """
        options: dict[str, Any] = {
            "num_cpus": resources.cpus,
            "num_gpus": resources.gpus,
            "max_retries": max_retries,
        }
        if resources.memory is not None:
            options["memory"] = resources.memory
        ref = self._remote_fn(fn).options(**options).remote(*args)
        return self._follow(ref)

    def _follow(self, ref: Any) -> Future[Any]:
        """A future that follows `ref` and cancels the task when it is cancelled itself.

        `ref.future()` alone cannot cancel the task, and Ray setting a result
        on it after a cancel raises in Ray's callback thread.
        """
        outer: Future[Any] = Future()

        def forward(done: Future[Any]) -> None:
            error = done.exception()
            with suppress(InvalidStateError):  # the outer future was cancelled
                if error is None:
                    outer.set_result(done.result())
                else:
                    outer.set_exception(error)

        def cancel(fut: Future[Any]) -> None:
            if fut.cancelled():
                self._ray.cancel(ref)

        outer.add_done_callback(cancel)
        ref.future().add_done_callback(forward)
        outer.object_ref = ref  # type: ignore[attr-defined]  # as Ray's own: keeps the result alive
        return outer

    def _remote_fn(self, fn: Callable[..., Any]) -> Any:
        # ray.remote pickles and exports the function; do it once per function.
        if fn not in self._remote:
            self._remote[fn] = self._ray.remote(fn)
        return self._remote[fn]

    def shutdown(self) -> None:
        """Disconnect from the cluster if this executor connected (the cluster keeps running)."""
        self._remote.clear()
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns_ray = False
