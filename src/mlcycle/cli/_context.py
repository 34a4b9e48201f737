"""Global CLI options and the shared console (set once per invocation)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlcycle.store import Workspace

_options: dict[str, Any] = {"workspace": Path("."), "debug": False}


def set_options(workspace: Path, debug: bool) -> None:
    """Remember the global options."""
    _options.update(workspace=workspace, debug=debug)


def debug() -> bool:
    """Whether `--debug` was given."""
    return bool(_options["debug"])


def workspace_path() -> Path:
    """The workspace folder from `--workspace`, `$MLCYCLE_WORKSPACE` or the current folder."""
    return Path(_options["workspace"])


def open_workspace(path: Path | None = None) -> Workspace:
    """Open the workspace with its `mlcycle.yaml` and `MLCYCLE_*` overrides."""
    from mlcycle import open_workspace as _open

    return _open(path or workspace_path())
