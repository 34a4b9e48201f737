"""The team server's FastAPI app: the REST API under `/api/`, the web UI at `/`.

Errors answer one line of JSON, `{"error": "..."}`, never a traceback:
:class:`~mlcycle.core.InputError` 400, :class:`~mlcycle.core.NotFound`
404, request validation 422 (FastAPI's `detail` kept alongside), anything
else 500 (the traceback goes to the server's log). OpenAPI: `/openapi.json`,
pages at `/docs`.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import text
from starlette.exceptions import HTTPException

from mlcycle.core import MlcycleError
from mlcycle.server._datasets import datasets_router
from mlcycle.server._monitoring import monitoring_router
from mlcycle.server._objects import objects_router
from mlcycle.server._registry import registry_router
from mlcycle.server._schemas import ErrorOut, HealthOut
from mlcycle.server._tracking import tracking_router
from mlcycle.store import Workspace

logger = logging.getLogger("mlcycle.server")

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Bad input; the message names the culprit"},
    404: {"model": ErrorOut, "description": "Unknown run, model, dataset or object"},
    500: {"model": ErrorOut, "description": "The server failed; see its log"},
}


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MlcycleError)
    async def mlcycle_error(_: Request, err: MlcycleError) -> Response:
        if err.http_status >= 500:
            logger.error("%s: %s", type(err).__name__, err)
        return _error(err.http_status, str(err).splitlines()[0] if str(err) else repr(err))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, err: RequestValidationError) -> Response:
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid request')}"
        return _error(
            422,
            message,
            detail=[{k: e.get(k) for k in ("loc", "msg", "type")} for e in err.errors()],
        )

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, err: HTTPException) -> Response:
        return _error(err.status_code, str(err.detail))

    @app.exception_handler(Exception)
    async def crashed(request: Request, err: Exception) -> Response:
        logger.exception("%s %s failed", request.method, request.url.path)
        return _error(500, f"internal server error ({type(err).__name__}); see the server log")


def _mount_ui(app: FastAPI, ws: Workspace) -> None:
    """Include `mlcycle.ui.make_router(ws)` if the UI is installed; else `/` goes to `/docs`."""
    make_router = None
    if importlib.util.find_spec("mlcycle.ui") is not None:
        make_router = getattr(importlib.import_module("mlcycle.ui"), "make_router", None)
    if make_router is not None:
        app.include_router(make_router(ws))
        return

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/docs")


def _mount_metrics(app: FastAPI) -> None:
    """`/metrics`: this process's monitoring gauges (drift share, feature drift, live metrics)."""

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        from mlcycle.monitoring import monitoring_gauges

        body, content_type = monitoring_gauges().render()
        return Response(body, media_type=content_type)


def create_app(ws: Workspace) -> FastAPI:
    """Build the team server app over workspace `ws` (its database and object store).

    Args:
        ws: the workspace whose `db_url` (e.g. PostgreSQL) and `objects_url`
            (e.g. `s3://...`) hold everything; uploads are staged in its
            `.mlcycle/uploads/`.

    Returns:
        The app: tracking, registry, datasets and monitoring under `/api/`,
        health at `/api/health`, the web UI at `/` when `mlcycle.ui` exists.
    """
    from importlib.metadata import version

    app = FastAPI(
        title="mlcycle",
        version=version("mlcycle"),
        summary="Tracking, registry, datasets and monitoring of one mlcycle workspace.",
        responses=_ERRORS,
    )
    _add_error_handlers(app)

    @app.get("/api/health", summary="Health check", tags=["server"], response_model=HealthOut)
    def health() -> dict[str, str]:
        """200 once the server answers and its database is reachable."""
        with ws.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "version": app.version}

    for router in (
        tracking_router(ws),
        objects_router(ws),
        registry_router(ws),
        datasets_router(ws),
        monitoring_router(ws),
    ):
        app.include_router(router)
    _mount_metrics(app)
    _mount_ui(app, ws)
    return app
