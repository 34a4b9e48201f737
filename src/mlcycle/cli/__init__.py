"""The `mlcycle` command line: thin Typer commands over the Python API.

`app` (the Typer application) is built on first access, so the fast
paths in :func:`main` never import Typer.
"""

from __future__ import annotations

from typing import Any

from mlcycle.cli._main import main


def __getattr__(name: str) -> Any:
    if name == "app":
        from mlcycle.cli import _main

        return _main.app
    raise AttributeError(f"module 'mlcycle.cli' has no attribute {name!r}")


__all__ = ["app", "main"]
