"""Store: the metadata database (SQLAlchemy + Alembic) and the object store (CAS on fsspec).

Names load on first use (PEP 562): opening a workspace to hash files or
read objects must not pay for SQLAlchemy's import (about 0.2 s).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlcycle.store import schema
    from mlcycle.store._db import Database, alembic_config, upgrade_to_head
    from mlcycle.store._objects import ObjectStore, move_into_place
    from mlcycle.store._workspace import STATE_DIR, Workspace

_MODULE_OF = {
    "Database": "_db",
    "alembic_config": "_db",
    "upgrade_to_head": "_db",
    "ObjectStore": "_objects",
    "move_into_place": "_objects",
    "STATE_DIR": "_workspace",
    "Workspace": "_workspace",
}


def __getattr__(name: str) -> Any:
    if name == "schema":
        return importlib.import_module("mlcycle.store.schema")
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'mlcycle.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"mlcycle.store.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


__all__ = [
    "STATE_DIR",
    "Database",
    "ObjectStore",
    "Workspace",
    "alembic_config",
    "move_into_place",
    "schema",
    "upgrade_to_head",
]
