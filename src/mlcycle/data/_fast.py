"""`mlcycle data status` without opening the workspace: the CLI's fast path.

Reads only `mlcycle.yaml`'s `objects_url`, the pointer files, the stat cache
and the local object folder (an ObjectStore on a plain path imports no
fsspec), so the command needs no Typer, Rich, pydantic model or SQLAlchemy.
Anything unusual (an object store that is not a local folder, a workspace
not yet created) returns None and the CLI takes the ordinary path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mlcycle.data._status import format_status, status_in
from mlcycle.data._targets import resolve_in
from mlcycle.store._objects import ObjectStore

_STATE_DIR = ".mlcycle"


def _plain_local(root: Path) -> bool:
    """Whether the workspace uses the default object folder (no `objects_url` anywhere)."""
    if os.environ.get("MLCYCLE_OBJECTS_URL"):
        return False
    config = root / "mlcycle.yaml"
    try:
        text = config.read_text(encoding="utf-8")
    except FileNotFoundError:
        return True
    return "objects_url" not in text  # a cheap, conservative scan: no YAML, no pydantic


def fast_status(workspace: Path, paths: list[str], as_json: bool) -> int | None:
    """Print `data status` for the workspace folder `workspace`; return the exit code.

    Returns None (print nothing) when the ordinary code path must answer.

    Raises:
        DataError: as :func:`mlcycle.data.status`.
    """
    root = workspace.resolve()
    state_dir = root / _STATE_DIR
    if not state_dir.is_dir() or not _plain_local(root):
        return None
    targets = [resolve_in(root, p) for p in paths] if paths else None
    found = status_in(root, state_dir, ObjectStore(str(state_dir / "objects")), targets)
    print(json.dumps([s.to_dict() for s in found], indent=2) if as_json else format_status(found))
    return 0
