"""The `mlcycle` command line: thin Typer commands over the Python API."""

from __future__ import annotations

from mlcycle.cli._main import app, main

__all__ = ["app", "main"]
