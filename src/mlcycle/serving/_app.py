"""The model server: a FastAPI app speaking OIP v2 and JSON records.

Routes: `GET /v2/health/live`, `GET /v2/health/ready`, `GET /v2` (server
metadata), `GET /v2/models/{name}` (model metadata), `GET
/v2/models/{name}/ready`, `POST /v2/models/{name}/infer` (OIP v2),
`POST /predict` (JSON records), `GET /metrics` (Prometheus text format).
Every prediction is written to the inference log before the response
leaves. Errors are JSON `{"error": "..."}` with a 4xx status for bad
input, never a 500. The two inference routes are answered by
:class:`~mlcycle.serving._hot.HotRoutes` ahead of FastAPI's stack (same
handlers, see there why).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from mlcycle.core import MlcycleError, ServingConfig
from mlcycle.serving._dispatch import dispatch, routing_key
from mlcycle.serving._holder import ModelHolder
from mlcycle.serving._hot import HotRoute, HotRoutes, Reply, error_reply
from mlcycle.serving._infer import infer, request_id_from, served_version
from mlcycle.serving._metrics import ServerMetrics, note_model
from mlcycle.serving._middleware import ServingMiddleware, route_of
from mlcycle.serving._openapi import INFER_BODY, PREDICT_BODY
from mlcycle.serving._predict import Predictor
from mlcycle.serving._protocol import (
    encode_infer_response,
    json_data,
    loads_json,
    oip_metadata,
    parse_infer_request,
    server_info,
)
from mlcycle.serving._records import inputs_from_records
from mlcycle.serving._rollout import Deployment


def _request_id(headers: Headers) -> str:
    return request_id_from(headers.get("x-request-id"), "header 'X-Request-ID'")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(
    holder: ModelHolder | Deployment,
    *,
    poll_seconds: float = 0.5,
    config: ServingConfig | None = None,
) -> FastAPI:
    """Build the server app around a model holder or deployment (which it starts and stops).

    Args:
        holder: the served model, following its alias, or a deployment
            (primary plus canary/A-B/shadow variants).
        poll_seconds: how often to check whether the alias moved.
        config: batching, limits and log flushing (default: the workspace's
            `serving` section).
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        deployment.start(poll_seconds)
        app.state.predictor.log.start()
        yield
        deployment.stop()
        await app.state.predictor.close()  # in-flight requests are done: flush the log

    deployment = holder if isinstance(holder, Deployment) else Deployment(holder)
    holder = deployment.primary
    app = _ServingApp(title="mlcycle model server", lifespan=lifespan)
    app.state.holder = holder
    app.state.deployment = deployment
    app.state.metrics = ServerMetrics()
    app.state.predictor = Predictor(holder.ws, app.state.metrics, config)
    _add_error_handlers(app)
    _add_health_routes(app)
    _add_predict_routes(app)
    hot = HotRoutes(partial(FastAPI.__call__, app), app.state, HOT_ROUTES, app.state.metrics)
    limit = app.state.predictor.config.max_body_bytes
    app.entry = ServingMiddleware(hot, metrics=app.state.metrics, max_body_bytes=limit)
    return app


class _ServingApp(FastAPI):
    """FastAPI behind mlcycle's serving middleware (413, request metrics) and the
    :class:`HotRoutes` that answer the inference routes before FastAPI's stack."""

    entry: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.entry(scope, receive, send)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MlcycleError)
    async def mlcycle_error(request: Request, err: MlcycleError) -> Response:
        app.state.metrics.failed(route_of(request.scope), type(err).__name__)
        status, reply = error_reply(err)
        return _response(reply, status)

    @app.exception_handler(StarletteHTTPException)  # unknown path, wrong method: OIP error body
    async def http_error(_: Request, err: StarletteHTTPException) -> JSONResponse:
        return _error(err.status_code, f"{err.detail} (see /docs for the routes)")


def _response(reply: Reply, status: int = 200) -> Response:
    return Response(reply.body, status, dict(reply.headers), media_type=reply.media_type)


def _add_health_routes(app: FastAPI) -> None:
    holder: ModelHolder = app.state.holder

    @app.get("/v2/health/live")
    def live() -> dict[str, bool]:
        return {"live": True}

    @app.get("/v2/health/ready")
    def ready() -> dict[str, bool]:
        return {"ready": True}

    @app.get("/v2")
    def server_metadata() -> dict[str, Any]:
        return server_info()

    @app.get("/v2/models/{name}")
    @app.get("/v2/models/{name}/versions/{version}")
    def model_metadata(name: str, version: str | None = None) -> dict[str, Any]:
        served = served_version(app.state, name, version)
        return oip_metadata(served.name, served.version, served.model.meta.signature)

    @app.get("/v2/models/{name}/ready")
    @app.get("/v2/models/{name}/versions/{version}/ready")
    def model_ready(name: str, version: str | None = None) -> dict[str, Any]:
        return {"name": served_version(app.state, name, version).name, "ready": True}

    @app.get("/metrics")
    def metrics() -> Response:
        text, content_type = app.state.metrics.render(holder.current)
        return Response(text, media_type=content_type)


async def infer_reply(
    state: Any, body: bytes, headers: Headers, params: Mapping[str, str]
) -> Reply:
    """Answer `POST /v2/models/{name}[/versions/{version}]/infer` (OIP v2, JSON or binary)."""
    name, version = params["name"], params.get("version")
    served_version(state, name, version)  # 404 before reading the body
    parsed = parse_infer_request(body, headers.get("inference-header-content-length"))
    request_id = (
        request_id_from(parsed.id, "field 'id'") if parsed.id is not None
        else _request_id(headers)
    )  # fmt: skip
    key = routing_key(state, headers)
    result = await infer(state, name, version, parsed, request_id, key)
    body, json_length = encode_infer_response(result.head, result.outputs, result.binary)
    if json_length is None:
        return Reply(body)
    return Reply(body, "application/octet-stream",
                 {"Inference-Header-Content-Length": str(json_length)})  # fmt: skip


async def predict_reply(
    state: Any, body: bytes, headers: Headers, params: Mapping[str, str]
) -> Reply:
    """Answer `POST /predict` (JSON records or columns)."""
    request_id = _request_id(headers)
    records = loads_json(body)  # the middleware has capped its size
    primary = state.holder.current
    note_model(primary.name, primary.version)  # rows refused from here count against it
    inputs = inputs_from_records(records, primary.model.meta.signature)
    key = routing_key(state, headers)
    served, result = await dispatch(state, primary.name, inputs, request_id, key)
    out = {
        "model_name": served.name,
        "model_version": served.version,
        "request_id": request_id,
        "ids": result.ids,
        "predictions": json_data(result.predictions),
    }
    if result.probabilities is not None:
        out["classes"] = list(served.model.meta.signature.classes or ())
        # a slice of a batch's (n, k) array may not be C-contiguous, which orjson requires
        out["probabilities"] = np.ascontiguousarray(result.probabilities)
    return Reply(orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY))


_INFER = "/v2/models/{name}/infer"
_INFER_VERSION = "/v2/models/{name}/versions/{version}/infer"
#: The inference routes, answered by :class:`HotRoutes` (and by FastAPI's routes below
#: for requests it does not match, e.g. under a path prefix).
HOT_ROUTES = [
    HotRoute("/predict", predict_reply),
    HotRoute(_INFER, infer_reply),
    HotRoute(_INFER_VERSION, infer_reply),
]


def _add_predict_routes(app: FastAPI) -> None:
    @app.post(_INFER, openapi_extra=INFER_BODY)
    @app.post(_INFER_VERSION, openapi_extra=INFER_BODY)
    async def infer_tensors(name: str, request: Request, version: str | None = None) -> Response:
        params = {"name": name} if version is None else {"name": name, "version": version}
        return _response(
            await infer_reply(app.state, await request.body(), request.headers, params)
        )

    @app.post("/predict", openapi_extra=PREDICT_BODY)
    async def predict(request: Request) -> Response:
        return _response(await predict_reply(app.state, await request.body(), request.headers, {}))
