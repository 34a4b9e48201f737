"""The step cache index: one JSON file per cache key under `.mlcycle/cache/steps/`.

An entry is `{"step", "key", "outputs": {name: {"kind", "oid", "codec", ...}},
"objects": [...], "run_id", "created_at"}`. `objects` lists every object id
needed to restore the outputs (a folder's manifest and its files included):
`mlcycle data gc` keeps exactly those, so the list is a contract. An entry
is written (atomically) only after all its objects are stored, so a step
killed midway leaves no entry and reruns.

`.mlcycle/cache/state.json` maps each step name to its latest key, which
`--only` uses for the upstream steps it does not run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.core import atomic_write_text, now

if TYPE_CHECKING:
    from mlcycle.store import ObjectStore

CACHE_DIR = Path("cache")


def steps_dir(state_dir: Path) -> Path:
    """The folder of the entries (`.mlcycle/cache/steps/`)."""
    return state_dir / CACHE_DIR / "steps"


def read_entry(state_dir: Path, key: str) -> dict[str, Any] | None:
    """The entry for `key`, or None if there is none (or it is unreadable)."""
    try:
        data: dict[str, Any] = json.loads((steps_dir(state_dir) / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None
    return data


def complete(objects: ObjectStore, entry: dict[str, Any]) -> bool:
    """Whether every object the entry needs is in the store."""
    return all(objects.exists(oid) for oid in entry["objects"])


def write_entry(
    state_dir: Path,
    step: str,
    key: str,
    outputs: dict[str, dict[str, Any]],
    objects: list[str],
    run_id: str,
) -> dict[str, Any]:
    """Write (atomically) and return the entry of a step that just ran."""
    entry = {
        "step": step,
        "key": key,
        "outputs": outputs,
        "objects": list(dict.fromkeys(objects)),
        "run_id": run_id,
        "created_at": now(),
    }
    atomic_write_text(steps_dir(state_dir) / f"{key}.json", json.dumps(entry, indent=1))
    return entry


def _state_file(state_dir: Path) -> Path:
    return state_dir / CACHE_DIR / "state.json"


def latest_keys(state_dir: Path) -> dict[str, str]:
    """Step name -> the key of its latest run or cache hit."""
    try:
        data: dict[str, str] = json.loads(_state_file(state_dir).read_text())
    except (OSError, ValueError):
        return {}
    return data


def remember_keys(state_dir: Path, keys: dict[str, str]) -> None:
    """Record `keys` as the steps' latest (merged into the state file, atomically)."""
    current = latest_keys(state_dir)
    if all(current.get(k) == v for k, v in keys.items()):
        return  # the no-op run writes nothing
    atomic_write_text(_state_file(state_dir), json.dumps({**current, **keys}, indent=1))
