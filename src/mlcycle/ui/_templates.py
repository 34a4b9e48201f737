"""The Jinja2 environment and the one function that turns a template into a response.

Templates live in `ui/templates/` (installed as package data). Autoescaping
is on for every template; links are built with :func:`url`, which follows
wherever the router is mounted (a `prefix` or the app's `root_path`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from mlcycle.ui._format import FILTERS, TESTS

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def environment() -> jinja2.Environment:
    """A Jinja2 environment over `ui/templates/` with the filters of `ui._format`."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    env.tests.update(TESTS)
    return env


def url(
    request: Request, route: str, query: Mapping[str, Any] | None = None, /, **params: Any
) -> str:
    """The path of route `route` with path `params`, plus `query` (None and "" values dropped).

    List values repeat the key (``runs=a&runs=b``).
    """
    path = request.url_for(route, **{k: str(v) for k, v in params.items()}).path
    pairs = {k: v for k, v in (query or {}).items() if v not in (None, "", [])}
    return f"{path}?{urlencode(pairs, doseq=True)}" if pairs else path


class Renderer:
    """Renders templates into HTML responses; one per router (templates compile once)."""

    def __init__(self) -> None:
        self.env = environment()

    def __call__(
        self, request: Request, template: str, context: Mapping[str, Any], status: int = 200
    ) -> HTMLResponse:
        """Render `template` with `context`, `request` and `url(...)`; return the response."""
        html = self.env.get_template(template).render(
            request=request, url=partial(url, request), **context
        )
        return HTMLResponse(html, status_code=status)
