"""Identifiers and clocks."""

from __future__ import annotations

import time
import uuid


def new_id() -> str:
    """Return a new random 32-character hex id (UUID4)."""
    return uuid.uuid4().hex


def now() -> float:
    """Return the wall-clock time in seconds since the epoch (UTC)."""
    return time.time()
