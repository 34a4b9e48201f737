"""The server's ASGI middleware: body-size limit (413) and request metrics.

Plain ASGI rather than FastAPI's `@app.middleware("http")`, which wraps
every request and response in extra tasks and streams and costs tens of
microseconds per request on the hot path.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlcycle.core import InputError
from mlcycle.serving._metrics import ServerMetrics, begin_request


class PayloadTooLarge(InputError):
    """The request body is larger than `serving.max_body_bytes` (413)."""

    http_status = 413


def too_large(size: int, limit: int) -> PayloadTooLarge:
    """The error for a body of `size` bytes over `limit` bytes."""
    return PayloadTooLarge(
        f"request body is {size} bytes; the limit is {limit} (serving.max_body_bytes)"
    )


def route_of(scope: Scope) -> str:
    """The matched route's path template (e.g. `/v2/models/{name}/infer`), or "unmatched"."""
    return str(getattr(scope.get("route"), "path", "unmatched"))


class ServingMiddleware:
    """Refuses bodies over `max_body_bytes` and times every HTTP request.

    Args:
        app: the wrapped ASGI app.
        metrics: where request counts and latencies go.
        max_body_bytes: the largest body accepted, in bytes.
    """

    def __init__(self, app: ASGIApp, metrics: ServerMetrics, max_body_bytes: int) -> None:
        self.app, self.metrics, self.limit = app, metrics, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await _reply_413(send, str(too_large(declared, self.limit)))
            self.metrics.failed("unmatched", PayloadTooLarge.__name__)
            self.metrics.observe("unmatched", 413, 0.0)
            return
        begin_request()
        start = time.perf_counter()
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, self._limited(receive), send_status)
        finally:
            self.metrics.observe(route_of(scope), status[0], time.perf_counter() - start)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:  # a chunked body without Content-Length
                raise too_large(seen, self.limit)
            return message

        return limited


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _reply_413(send: Send, message: str) -> None:
    import orjson

    body = orjson.dumps({"error": message})
    headers: list[Any] = [(b"content-type", b"application/json"), (b"connection", b"close")]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
