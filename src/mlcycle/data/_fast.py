"""`mlcycle data status` and `data add` without the workspace's config model: the CLI's fast path.

`status` reads only `mlcycle.yaml`'s `objects_url`, the pointer files, the
stat cache and the local object folder (an ObjectStore on a plain path
imports no fsspec), so the command needs no Typer, Rich, pydantic model or
SQLAlchemy. `add` opens the workspace with :func:`light_workspace`, which
reads `mlcycle.yaml` only when it is trivial (at most `cache.link`), and
records versions through the pending journal. Anything unusual (an object
store that is not a local folder, a workspace not yet created, a config with
anything else in it, `MLCYCLE_*` overrides) returns None and the CLI takes
the ordinary path, which validates the whole config.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from mlcycle.data._status import format_status, status_in
from mlcycle.data._targets import resolve_in
from mlcycle.store._objects import LINK_KINDS, ObjectStore

if TYPE_CHECKING:
    from mlcycle.core import Config
    from mlcycle.store import Workspace

_STATE_DIR = ".mlcycle"
_CONFIG_FILE = "mlcycle.yaml"
#: Environment overrides of the config (see `mlcycle.core.load_config`): the full path reads them.
_OVERRIDES = ("MLCYCLE_DB_URL", "MLCYCLE_OBJECTS_URL", "MLCYCLE_WEBHOOK_URL")
#: `mlcycle.core.CacheConfig.link`'s default.
DEFAULT_LINKS = ("reflink", "copy")
_IGNORED = re.compile(r"[ ]*(?:#.*)?")  # blank and comment lines
_FLOW_LINK = re.compile(r"( +)link: \[([a-z, ]*)\][ ]*")
_BLOCK_LINK = re.compile(r"( +)link:[ ]*")
_ITEM = re.compile(r"( +)- ([a-z]+)[ ]*")


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


@dataclass(frozen=True)
class _Cache:
    link: tuple[str, ...]


@dataclass(frozen=True)
class LightConfig:
    """The part of :class:`mlcycle.core.Config` that `data add` reads, from a trivial file."""

    cache: _Cache
    db_url: None = None
    objects_url: None = None


def _links(lines: list[str]) -> tuple[str, ...] | None:
    """`cache.link` from the lines after `cache:`; None unless they are exactly that key."""
    if not lines:
        return None
    flow = _FLOW_LINK.fullmatch(lines[0])
    if flow is not None:
        items = [x.strip() for x in flow[2].split(",")]
        return tuple(items) if len(lines) == 1 else None
    key = _BLOCK_LINK.fullmatch(lines[0])
    matches = [_ITEM.fullmatch(line) for line in lines[1:]]
    if key is None or not matches or None in matches:
        return None
    items = [m for m in matches if m is not None]
    indents = {len(m[1]) for m in items}  # one column for all (deeper would continue a scalar)
    if len(indents) != 1 or indents.pop() < len(key[1]):
        return None
    return tuple(m[2] for m in items)


def light_config(root: Path) -> LightConfig | None:
    """The config of the workspace `root` if `mlcycle.yaml` is trivial, else None.

    Trivial: missing, or only blank lines, comment lines and `cache:` with a
    `link:` list (flow `[a, b]` or block `- a` items) of known link kinds;
    and no `MLCYCLE_*` override set. Such a file means the same to the full
    parser (YAML and the pydantic model); anything else returns None.
    """
    if any(os.environ.get(var) for var in _OVERRIDES):
        return None
    try:
        text = (root / _CONFIG_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return LightConfig(_Cache(DEFAULT_LINKS))
    except (OSError, UnicodeDecodeError):
        return None
    lines = [line for line in text.split("\n") if not _IGNORED.fullmatch(line)]
    if not lines:
        return LightConfig(_Cache(DEFAULT_LINKS))
    if lines[0].rstrip(" ") != "cache:":
        return None
    links = _links(lines[1:])
    if not links or any(kind not in LINK_KINDS for kind in links):
        return None
    return LightConfig(_Cache(links))


def light_workspace(workspace: Path) -> Workspace | None:
    """The workspace at `workspace` opened without the config model, or None (see the module)."""
    from mlcycle.store._workspace import Workspace

    config = light_config(workspace)
    if config is None:
        return None
    return Workspace(workspace, cast("Config", config))
