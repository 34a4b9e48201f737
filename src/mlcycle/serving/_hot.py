"""The inference routes, answered ahead of FastAPI's per-request machinery.

FastAPI wraps every request in its middlewares (error handling, body
limit, telemetry), an exit stack, a `Request` object and dependency
solving. On a single-row prediction through ONNX that machinery cost more
than all of mlcycle's own work (py-spy, 2026-11-21: 35-40% of the
server's samples against 15%). :class:`HotRoutes` sits in front of the
FastAPI app and answers the routes it knows (`POST /predict` and the OIP
infer routes) as plain ASGI: it reads the body, calls the route's handler
(the same function the FastAPI route calls) and sends the reply. Any
other request, or one it does not match (e.g. under a path prefix), goes
on to FastAPI, whose routes serve it the same way and document it in
the OpenAPI schema.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from mlcycle.core import MlcycleError
from mlcycle.serving._batching import ServerBusy
from mlcycle.serving._metrics import ServerMetrics

log = logging.getLogger("mlcycle.serving")


@dataclass(frozen=True)
class Reply:
    """A successful (200) response: its body, media type and extra headers."""

    body: bytes
    media_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


#: A route handler: (app state, request body, request headers, path parameters) -> reply.
Handler = Callable[[Any, bytes, Headers, Mapping[str, str]], Awaitable[Reply]]


def error_reply(err: MlcycleError) -> tuple[int, Reply]:
    """The status and JSON body `{"error": message}` of an error (with `Retry-After` for 503)."""
    headers = {"Retry-After": str(err.retry_after)} if isinstance(err, ServerBusy) else {}
    return err.http_status, Reply(orjson.dumps({"error": str(err)}), headers=headers)


@dataclass(frozen=True)
class HotRoute:
    """A POST route answered by :class:`HotRoutes`.

    Attributes:
        path: the path template, e.g. `/v2/models/{name}/infer` (the
            metrics' `route` label, as for FastAPI's routes).
        handler: the function that answers it.
    """

    path: str
    handler: Handler

    @property
    def pattern(self) -> re.Pattern[str]:
        """The regex of `path`: each `{param}` matches one path segment."""
        return re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path))


class _Disconnected(Exception):
    """The client went away before sending its whole body."""


class HotRoutes:
    """ASGI: answers `routes` itself, hands every other request to `app`.

    Args:
        app: the FastAPI app (its stack, for every other request).
        state: the app's state, passed to the handlers.
        routes: the routes to answer (POST only).
        metrics: counts failed requests by error class.
    """

    def __init__(
        self, app: ASGIApp, state: Any, routes: list[HotRoute], metrics: ServerMetrics
    ) -> None:
        self.app, self.state, self.metrics = app, state, metrics
        self._routes = [(route.pattern, route) for route in routes]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            for pattern, route in self._routes:
                match = pattern.fullmatch(scope["path"])
                if match is not None:
                    scope["route"] = route  # what the metrics middleware labels it by
                    await self._answer(route, match.groupdict(), scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _answer(
        self, route: HotRoute, params: dict[str, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        try:
            body = await _read_body(receive)
            reply = await route.handler(self.state, body, Headers(scope=scope), params)
            status = 200
        except _Disconnected:
            return
        except MlcycleError as err:
            self.metrics.failed(route.path, type(err).__name__)
            status, reply = error_reply(err)
        except Exception:  # a bug: log it, answer 500 like FastAPI would, keep serving
            log.exception("%s %s failed", scope["method"], scope["path"])
            self.metrics.failed(route.path, "InternalError")
            status, reply = 500, Reply(orjson.dumps({"error": "internal server error"}))
        headers = [
            (b"content-type", reply.media_type.encode()),
            (b"content-length", str(len(reply.body)).encode()),
            *((k.lower().encode(), v.encode()) for k, v in reply.headers.items()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
