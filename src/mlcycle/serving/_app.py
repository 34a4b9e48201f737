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

import json
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from mlcycle.core import InputError, MlcycleError, new_id
from mlcycle.serving._dispatch import dispatch, served_model
from mlcycle.serving._holder import ModelHolder
from mlcycle.serving._metrics import ServerMetrics
from mlcycle.serving._predict import Predictor
from mlcycle.serving._protocol import frame_from_oip, frame_from_records, oip_metadata, oip_output

_REQUEST_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,48}$")
MAX_BODY_BYTES = 32 << 20


def _request_id(request: Request) -> str:
    given = request.headers.get("x-request-id")
    if given is None:
        return new_id()
    if not _REQUEST_ID.fullmatch(given):
        raise InputError("header 'X-Request-ID' must be 1-48 characters of letters, digits, '_.:-'")
    return given


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise InputError(f"request body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}")
    try:
        return json.loads(raw, parse_int=_parse_int)
    except InputError:
        raise
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError, too many digits
        raise InputError(f"request body is not valid JSON: {err}") from None


def _parse_int(text: str) -> int:
    value = int(text)
    if abs(value) > 2**63:  # beyond INT64; would overflow when converted to float
        raise InputError(f"number {text[:24]}{'...' if len(text) > 24 else ''} is too large")
    return value


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(holder: ModelHolder, *, poll_seconds: float = 0.5) -> FastAPI:
    """Build the server app around a model holder (which it starts and stops).

    Args:
        holder: the served model, following its alias.
        poll_seconds: how often to check whether the alias moved.
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        holder.start(poll_seconds)
        yield
        holder.stop()

    app = FastAPI(title="mlcycle model server", lifespan=lifespan)
    app.state.holder = holder
    app.state.metrics = ServerMetrics()
    app.state.predictor = Predictor(holder.ws, app.state.metrics)
    _add_middleware(app)
    _add_health_routes(app)
    _add_predict_routes(app)
    return app


def _add_middleware(app: FastAPI) -> None:
    @app.exception_handler(MlcycleError)
    async def mlcycle_error(_: Request, err: MlcycleError) -> JSONResponse:
        return _error(err.http_status, str(err))

    @app.middleware("http")
    async def measure(request: Request, call_next: Callable[[Request], Any]) -> Response:
        start = time.perf_counter()
        response: Response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        app.state.metrics.observe(path, response.status_code, time.perf_counter() - start)
        return response


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
        from importlib.metadata import version

        return {"name": "mlcycle", "version": version("mlcycle"), "extensions": []}

    @app.get("/v2/models/{name}")
    def model_metadata(name: str) -> dict[str, Any]:
        served = served_model(holder, name)
        return oip_metadata(served.name, served.version, served.model.meta.signature)

    @app.get("/v2/models/{name}/ready")
    def model_ready(name: str) -> dict[str, Any]:
        return {"name": served_model(holder, name).name, "ready": True}

    @app.get("/metrics")
    def metrics() -> Response:
        text, content_type = app.state.metrics.render(holder.current)
        return Response(text, media_type=content_type)


def _add_predict_routes(app: FastAPI) -> None:
    holder: ModelHolder = app.state.holder

    @app.post("/v2/models/{name}/infer")
    async def infer(name: str, request: Request) -> dict[str, Any]:
        served = served_model(holder, name)
        body = await _json_body(request)
        request_id = str(body.get("id") or _request_id(request)) if isinstance(body, dict) else ""
        frame = frame_from_oip(body)
        if not _REQUEST_ID.fullmatch(request_id):
            raise InputError("field 'id' must be 1-48 characters of letters, digits, '_.:-'")
        served, result = await dispatch(app.state, name, frame, request_id)
        return {
            "model_name": served.name,
            "model_version": str(served.version),
            "id": request_id,
            "parameters": {"prediction_ids": result.ids},
            "outputs": [oip_output(served.model.meta.signature, result.predictions)],
        }

    @app.post("/predict")
    async def predict(request: Request) -> dict[str, Any]:
        request_id = _request_id(request)
        frame = frame_from_records(await _json_body(request))
        served, result = await dispatch(app.state, holder.current.name, frame, request_id)
        out = {
            "model_name": served.name,
            "model_version": served.version,
            "request_id": request_id,
            "ids": result.ids,
            "predictions": result.predictions.tolist(),
        }
        if result.probabilities is not None:
            out["classes"] = list(served.model.meta.signature.classes or ())
            out["probabilities"] = result.probabilities.tolist()
        return out
