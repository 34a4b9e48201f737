"""The web UI as a FastAPI router: one handler per page, all sync (FastAPI runs them in threads).

Pages (route names in brackets, for `url_for`):

    /                               runs table: filter, sort, paginate   [ui_runs]
    /runs/{run_id}                  run detail with metric charts        [ui_run]
    /runs/{run_id}/artifacts/{path} artifact download                    [ui_artifact]
    /compare?runs=A&runs=B          compare 2-20 runs                    [ui_compare]
    /models                         registered models                    [ui_models]
    /models/{name}?version=N        versions, aliases, history, lineage  [ui_model]
    /monitoring?model=NAME          drift, live metrics, alerts, reports [ui_monitoring]
    /reports/{path}                 a file of the workspace's reports/   [ui_report]
    /static/{path}                  CSS and JavaScript of the UI         [ui_static]

Query parameters are read leniently (a bad page number falls back to the
default). User errors become pages with the message: a malformed filter
400, an unknown run or model 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from mlcycle.core import InputError, MlcycleError, NotFound
from mlcycle.store import Workspace
from mlcycle.tracking import get_run, metric_keys
from mlcycle.ui import _files
from mlcycle.ui._charts import DEFAULT_POINTS, PALETTE, run_charts
from mlcycle.ui._compare import compare
from mlcycle.ui._models import model_detail, models_overview
from mlcycle.ui._monitoring import monitoring
from mlcycle.ui._runs import PAGE_SIZES, RunsQuery, parse_int, runs_page
from mlcycle.ui._templates import Renderer


class _Pages:
    """The page handlers over one workspace."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.render = Renderer()

    def guarded(self, request: Request, build: Callable[[], Response]) -> Response:
        """Call `build`; turn a user error into an error page with its HTTP status."""
        try:
            return build()
        except (InputError, NotFound) as err:
            status = 404 if isinstance(err, NotFound) else 400
            return self.error(request, status, str(err))
        except MlcycleError as err:
            return self.error(request, 500, str(err))

    def error(self, request: Request, status: int, message: str) -> HTMLResponse:
        """The error page."""
        context = {"title": f"Error {status}", "status": status, "message": message}
        return self.render(request, "error.html", context, status)

    def runs(self, request: Request) -> Response:
        page = runs_page(self.ws, RunsQuery.parse(dict(request.query_params)))
        context = {"title": "Runs", "page": page, "page_sizes": PAGE_SIZES}
        return self.render(request, "runs.html", context, 400 if page.error else 200)

    def run(self, request: Request, run_id: str) -> Response:
        def build() -> Response:
            record = get_run(self.ws, run_id)
            points = parse_int(request.query_params.get("points"), DEFAULT_POINTS, 50, 20_000)
            charts = run_charts(self.ws, record.id, metric_keys(self.ws, record.id), points)
            context = {"title": f"Run {record.name}", "run": record, "charts": charts}
            return self.render(request, "run.html", context)

        return self.guarded(request, build)

    def artifact(self, request: Request, run_id: str, path: str) -> Response:
        return self.guarded(request, lambda: _files.artifact_response(self.ws, run_id, path))

    def compare(self, request: Request) -> Response:
        def build() -> Response:
            ids = request.query_params.getlist("runs")
            result = compare(self.ws, ids, request.query_params.get("metric", ""))
            context = {
                "title": "Compare runs",
                "cmp": result,
                "charts": result.charts,
                "palette": PALETTE,
            }
            return self.render(request, "compare.html", context)

        return self.guarded(request, build)

    def models(self, request: Request) -> Response:
        context = {"title": "Models", "models": models_overview(self.ws)}
        return self.render(request, "models.html", context)

    def model(self, request: Request, name: str) -> Response:
        def build() -> Response:
            text = request.query_params.get("version", "")
            version = int(text) if text.isdigit() else None
            detail = model_detail(self.ws, name, version)
            return self.render(request, "model.html", {"title": f"Model {name}", "m": detail})

        return self.guarded(request, build)

    def monitoring(self, request: Request) -> Response:
        data = monitoring(self.ws, request.query_params.get("model", ""))
        charts = [c for loop in data.loops for c in loop.charts] + data.alert_charts
        context = {"title": "Monitoring", "mon": data, "charts": charts}
        return self.render(request, "monitoring.html", context)

    def report(self, request: Request, path: str) -> Response:
        return self.guarded(request, lambda: _files.report_response(self.ws, path))

    def static(self, request: Request, path: str) -> Response:
        return self.guarded(request, lambda: _files.static_response(path))


def make_router(ws: Workspace) -> APIRouter:
    """The web UI over workspace `ws`, to include in a FastAPI app.

    Serves HTML pages (server-rendered with Jinja2; tables work without
    JavaScript, charts use the vendored uPlot) and `/static` files; no
    page loads anything from another origin. The routes are left out of
    the OpenAPI schema.

    Example::

        app = FastAPI()
        app.include_router(make_router(ws))           # pages at /
        app.include_router(make_router(ws), prefix="/ui")  # or under /ui

    Args:
        ws: the workspace whose runs, models and reports the pages show.

    Returns:
        The router.
    """
    pages = _Pages(ws)
    router = APIRouter(include_in_schema=False)
    routes: list[tuple[str, str, Callable[..., Any]]] = [
        ("/", "ui_runs", pages.runs),
        ("/runs/{run_id}", "ui_run", pages.run),
        ("/runs/{run_id}/artifacts/{path:path}", "ui_artifact", pages.artifact),
        ("/compare", "ui_compare", pages.compare),
        ("/models", "ui_models", pages.models),
        ("/models/{name}", "ui_model", pages.model),
        ("/monitoring", "ui_monitoring", pages.monitoring),
        ("/reports/{path:path}", "ui_report", pages.report),
        ("/static/{path:path}", "ui_static", pages.static),
    ]
    for path, name, endpoint in routes:
        router.add_api_route(path, endpoint, name=name, methods=["GET"], response_model=None)
    return router
