"""Store: the metadata database (SQLAlchemy + Alembic) and the object store (CAS on fsspec)."""

from __future__ import annotations

from mlcycle.store import schema
from mlcycle.store._db import Database, alembic_config, upgrade_to_head
from mlcycle.store._objects import ObjectStore, move_into_place
from mlcycle.store._workspace import STATE_DIR, Workspace

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
