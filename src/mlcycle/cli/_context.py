"""Global CLI options and the shared console (set once per invocation)."""

from __future__ import annotations

import logging
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
    """Open the workspace with its `mlcycle.yaml` and `MLCYCLE_*` overrides.

    Library log records (alerts, model swaps) go to `.mlcycle/logs/mlcycle.log`.
    """
    from mlcycle import open_workspace as _open

    ws = _open(path or workspace_path())
    log_to(ws.state_dir / "logs" / "mlcycle.log")
    return ws


def log_to(path: Path) -> None:
    """Send mlcycle's log records to `path` instead of the terminal (once per process)."""
    logger = logging.getLogger("mlcycle")
    if any(isinstance(h, logging.FileHandler) for h in logger.handlers):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
