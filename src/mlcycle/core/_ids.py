"""Identifiers and clocks."""

from __future__ import annotations

import time


def new_id() -> str:
    """Return a new random 32-character hex id (UUID4)."""
    import uuid  # here, not above: `data status` never needs it (5 ms)

    return uuid.uuid4().hex


def now() -> float:
    """Return the wall-clock time in seconds since the epoch (UTC)."""
    return time.time()
