"""UI: the web pages of mlcycle (runs, compare, models, monitoring) as a FastAPI router.

Server-rendered with Jinja2, no CDN: everything works offline. Tables are
plain HTML (no JavaScript needed); charts are drawn by the vendored uPlot
(MIT, `static/uPlot.LICENSE`) from series downsampled on the server. See
docs/ui.md.
"""

from __future__ import annotations

from mlcycle.ui._router import make_router

__all__ = ["make_router"]
