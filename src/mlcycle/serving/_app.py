"""The model server: a FastAPI app speaking OIP v2 and JSON records.

Routes: `GET /v2/health/live`, `GET /v2/health/ready`, `GET /v2` (server
metadata), `GET /v2/models/{name}` (model metadata), `GET
/v2/models/{name}/ready`, `POST /v2/models/{name}/infer` (OIP v2),
`POST /predict` (JSON records), `GET /metrics` (Prometheus text format).
Every prediction is written to the inference log before the response
leaves. Errors are JSON `{"error": "..."}` with a 4xx status for bad
input, never a 500.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mlcycle.core import MlcycleError, ServingConfig
from mlcycle.serving._batching import ServerBusy
from mlcycle.serving._dispatch import dispatch, routing_key
from mlcycle.serving._holder import ModelHolder
from mlcycle.serving._infer import infer, request_id_from, served_version
from mlcycle.serving._metrics import ServerMetrics
from mlcycle.serving._middleware import ServingMiddleware, route_of
from mlcycle.serving._openapi import INFER_BODY, PREDICT_BODY
from mlcycle.serving._predict import Predictor
from mlcycle.serving._protocol import (
    encode_infer_response,
    frame_from_records,
    json_data,
    loads_json,
    oip_metadata,
    parse_infer_request,
    server_info,
)
from mlcycle.serving._rollout import Deployment
from mlcycle.serving._tensors import check_finite_frame


def _request_id(request: Request) -> str:
    return request_id_from(request.headers.get("x-request-id"), "header 'X-Request-ID'")


async def _json_body(request: Request) -> Any:
    return loads_json(await request.body())  # the middleware has capped its size


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
    app = FastAPI(title="mlcycle model server", lifespan=lifespan)
    app.state.holder = holder
    app.state.deployment = deployment
    app.state.metrics = ServerMetrics()
    app.state.predictor = Predictor(holder.ws, app.state.metrics, config)
    _add_middleware(app)
    _add_health_routes(app)
    _add_predict_routes(app)
    return app


def _add_middleware(app: FastAPI) -> None:
    @app.exception_handler(MlcycleError)
    async def mlcycle_error(request: Request, err: MlcycleError) -> JSONResponse:
        app.state.metrics.failed(route_of(request.scope), type(err).__name__)
        response = _error(err.http_status, str(err))
        if isinstance(err, ServerBusy):
            response.headers["Retry-After"] = str(err.retry_after)
        return response

    @app.exception_handler(StarletteHTTPException)  # unknown path, wrong method: OIP error body
    async def http_error(_: Request, err: StarletteHTTPException) -> JSONResponse:
        return _error(err.status_code, f"{err.detail} (see /docs for the routes)")

    limit = app.state.predictor.config.max_body_bytes
    app.add_middleware(ServingMiddleware, metrics=app.state.metrics, max_body_bytes=limit)


def _json_response(content: Any) -> Response:
    return Response(orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY),
                    media_type="application/json")  # fmt: skip


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


def _add_predict_routes(app: FastAPI) -> None:
    holder: ModelHolder = app.state.holder

    @app.post("/v2/models/{name}/infer", openapi_extra=INFER_BODY)
    @app.post("/v2/models/{name}/versions/{version}/infer", openapi_extra=INFER_BODY)
    async def infer_tensors(name: str, request: Request, version: str | None = None) -> Response:
        served_version(app.state, name, version)  # 404 before reading the body
        header_length = request.headers.get("inference-header-content-length")
        parsed = parse_infer_request(await request.body(), header_length)
        request_id = (
            request_id_from(parsed.id, "field 'id'") if parsed.id is not None
            else _request_id(request)
        )  # fmt: skip
        key = routing_key(app.state, request.headers)
        result = await infer(app.state, name, version, parsed, request_id, key)
        body, json_length = encode_infer_response(result.head, result.outputs, result.binary)
        if json_length is None:
            return Response(body, media_type="application/json")
        return Response(body, media_type="application/octet-stream",
                        headers={"Inference-Header-Content-Length": str(json_length)})  # fmt: skip

    @app.post("/predict", openapi_extra=PREDICT_BODY)
    async def predict(request: Request) -> Response:
        request_id = _request_id(request)
        frame = frame_from_records(await _json_body(request))
        check_finite_frame(frame, holder.current.model.meta.signature)
        key = routing_key(app.state, request.headers)
        served, result = await dispatch(app.state, holder.current.name, frame, request_id, key)
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
        return _json_response(out)
