"""`mlcycle server`: the team server (REST API + web UI) over a database and an object store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlcycle.cli import _context


def register(app: typer.Typer) -> None:
    """Add the commands of this module to `app`."""
    app.command("server")(server)


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def server(
    db: Annotated[
        str | None,
        typer.Option(
            help="Metadata database URL, e.g. postgresql+psycopg://user@host/db "
            "\\[default: the workspace's db_url, else its SQLite file]."
        ),
    ] = None,
    objects: Annotated[
        str | None,
        typer.Option(
            help="Object store fsspec URL, e.g. s3://bucket/mlcycle "
            "\\[default: the workspace's objects_url, else .mlcycle/objects]."
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")] = 5000,
    port_file: Annotated[
        Path | None, typer.Option(help="Write the bound port to this file.")
    ] = None,
    loop: Annotated[
        bool, typer.Option("--loop/--no-loop", help="Run the loop controller (with loop.policy).")
    ] = True,
) -> None:
    """Serve the REST API (tracking, registry, datasets, monitoring) and the web UI.

    Clients log to it with MLCYCLE_TRACKING_URI=http://HOST:PORT. API docs at /docs.
    """
    from mlcycle.server import serve
    from mlcycle.store import Workspace

    ws = _context.open_workspace()
    overrides = {k: v for k, v in (("db_url", db), ("objects_url", objects)) if v}
    if overrides:
        ws = Workspace(ws.root, ws.config.model_copy(update=overrides))
    typer.echo(f"Database: {_hide_password(ws.db.url)}; objects: {ws.objects.url}")
    serve(ws, host=host, port=port, port_file=port_file, loop=loop)
