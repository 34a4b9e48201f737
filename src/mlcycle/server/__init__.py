"""Server: the team server's REST API (tracking, registry, datasets, monitoring) and UI.

`mlcycle server --db postgresql+psycopg://... --objects s3://...` runs
:func:`serve`; clients point `MLCYCLE_TRACKING_URI` at it (see
`docs/server.md`). The API is described at `/openapi.json` and `/docs`.
"""

from __future__ import annotations

from mlcycle.server._app import create_app
from mlcycle.server._encode import json_safe
from mlcycle.server._serve import bind, serve, url_of

__all__ = ["bind", "create_app", "json_safe", "serve", "url_of"]
