"""`mlcycle data push|pull|remote|gc|validate`: remotes, garbage collection, expectations."""

from __future__ import annotations

import typer


def register(data_app: typer.Typer) -> None:
    """Add the remote, gc and validate commands to `data_app`."""
