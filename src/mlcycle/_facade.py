"""The top-level functions of `import mlcycle`: thin, lazy wrappers over the layers.

These are entry points: they read `MLCYCLE_WORKSPACE` and `mlcycle.yaml`
when no workspace is given; the layers below never do. Tracking functions
also read `MLCYCLE_TRACKING_URI`: when it names a tracking server
(`http://host:port`, see `mlcycle server`) and no workspace is given, runs
are logged to and read from that server.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlcycle.models import LoadedModel
    from mlcycle.store import Workspace
    from mlcycle.tracking import Run, RunRecord, TrackingStore


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


def tracking_uri() -> str | None:
    """The tracking server named by `$MLCYCLE_TRACKING_URI`, or None if it is unset or empty.

    Raises:
        ConfigError: if it is set to something other than an http(s) URL.
    """
    uri = os.environ.get("MLCYCLE_TRACKING_URI", "").strip()
    if not uri:
        return None
    if not uri.startswith(("http://", "https://")):
        from mlcycle.core import ConfigError

        raise ConfigError(
            f"MLCYCLE_TRACKING_URI must be a server URL like http://host:5000; got {uri!r} "
            "(unset it to track into the workspace)"
        )
    return uri


def tracking_store(workspace: Workspace | None = None) -> TrackingStore:
    """Where runs go: `workspace`'s database if given, else the tracking server of
    `$MLCYCLE_TRACKING_URI` if set, else the default workspace's database.

    Raises:
        ConfigError: if `$MLCYCLE_TRACKING_URI` is not an http(s) URL.
    """
    from mlcycle.tracking import store_for

    uri = None if workspace is not None else tracking_uri()
    if uri is not None:
        from mlcycle.tracking._http import http_store

        return http_store(uri)
    return store_for(workspace or open_workspace())


def start_run(
    *,
    experiment: str = "default",
    name: str | None = None,
    tags: dict[str, Any] | None = None,
    workspace: Workspace | None = None,
) -> Run:
    """Start a tracked run; use it as a context manager (see :class:`mlcycle.tracking.Run`).

    The run goes to `workspace` if given, else to the tracking server of
    `$MLCYCLE_TRACKING_URI` if set, else to the default workspace.

    Raises:
        ConfigError: if `$MLCYCLE_TRACKING_URI` is not an http(s) URL.
        MlcycleError: if the tracking server cannot be reached.
    """
    from mlcycle.tracking import start_run as _start

    store = tracking_store(workspace)
    target = getattr(store, "ws", None) or store  # a workspace brings its git commit and config
    return _start(target, experiment=experiment, name=name, tags=tags)


def search_runs(
    filter: str = "",
    *,
    experiment: str | Sequence[str] | None = None,
    order_by: Sequence[str] = (),
    limit: int = 100,
    offset: int = 0,
    workspace: Workspace | None = None,
) -> list[RunRecord]:
    """Return one page of the runs matching `filter`, e.g. `"metrics.mae < 40"`.

    The language is in docs/tracking-search.md; `order_by` items are
    `FIELD [ASC|DESC]` (default: newest first). Reads `workspace`, else the
    server of `$MLCYCLE_TRACKING_URI`, else the default workspace.

    Raises:
        InputError: if the filter or an order item is malformed (the
            message points at the position).
    """
    return tracking_store(workspace).search_runs(
        filter, experiment=experiment, order_by=order_by, limit=limit, offset=offset
    )


def get_run(run_id: str, *, workspace: Workspace | None = None) -> RunRecord:
    """Return run `run_id` (or a unique prefix of 6+ characters), from where
    :func:`search_runs` reads.

    Raises:
        RunNotFound: if no run (or several) match.
    """
    return tracking_store(workspace).get_run(run_id)


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
