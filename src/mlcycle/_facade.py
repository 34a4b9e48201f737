"""The top-level functions of `import mlcycle`: thin, lazy wrappers over the layers.

These are entry points: they read `MLCYCLE_WORKSPACE` and `mlcycle.yaml`
when no workspace is given; the layers below never do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlcycle.models import LoadedModel
    from mlcycle.store import Workspace
    from mlcycle.tracking import Run


def open_workspace(path: str | os.PathLike[str] | None = None) -> Workspace:
    """Open (creating if needed) the workspace at `path`.

    Default: `$MLCYCLE_WORKSPACE`, else the current folder. Reads its
    `mlcycle.yaml` and `MLCYCLE_*` overrides.

    Raises:
        ConfigError: if `mlcycle.yaml` is invalid.
    """
    from mlcycle.core import load_config
    from mlcycle.store import Workspace

    root = Path(path or os.environ.get("MLCYCLE_WORKSPACE") or Path.cwd())
    return Workspace(root, load_config(root))


def start_run(
    *,
    experiment: str = "default",
    name: str | None = None,
    tags: dict[str, Any] | None = None,
    workspace: Workspace | None = None,
) -> Run:
    """Start a tracked run; use it as a context manager (see :class:`mlcycle.tracking.Run`)."""
    from mlcycle.tracking import start_run as _start

    return _start(workspace or open_workspace(), experiment=experiment, name=name, tags=tags)


def current_run() -> Run:
    """The tracked run of the pipeline step executing now, e.g. to log its metrics.

    Raises:
        PipelineError: if called outside a step run by `mlcycle run`.
    """
    from mlcycle.pipeline._context import current_run as _current

    return _current()


def load_model(ref: str, *, workspace: Workspace | None = None) -> LoadedModel:
    """Load registered model `NAME@ALIAS`, `NAME@VERSION` or `NAME` (latest).

    Raises:
        ModelNotFound: if the model, alias or version does not exist.
        IntegrityError: if the stored package is corrupt or holds untrusted types.
    """
    from mlcycle.models import fetch_package, load_package
    from mlcycle.registry import resolve

    ws = workspace or open_workspace()
    version = resolve(ws, ref)
    return load_package(fetch_package(ws.objects, version.package_id, ws.state_dir / "packages"))
