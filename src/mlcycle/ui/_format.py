"""How values look on the pages: numbers (NaN and infinities spelled out), times, sizes.

These are the Jinja filters of every template (see `ui._templates`).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_./-]+")


def number(value: Any) -> str:
    """Format a metric or param value for a table cell.

    Floats get 6 significant digits; NaN is ``NaN`` and infinities ``inf`` and
    ``-inf``; None is empty; anything else is `str(value)`.
    """
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.6g}"


def timestamp(seconds: float | None) -> str:
    """Format seconds since the epoch as ``YYYY-MM-DD HH:MM:SS`` (UTC); None is empty."""
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    """Format a duration in seconds as ``850 ms``, ``12.3 s``, ``4 min 5 s`` or ``2 h 3 min``."""
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def size(n_bytes: int | None) -> str:
    """Format a size in bytes with binary units (``1.5 KiB``)."""
    if n_bytes is None:
        return ""
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover - the loop always returns


def short(identifier: str | None) -> str:
    """The first 8 characters of an id, enough to tell runs apart on a page."""
    return (identifier or "")[:8]


def field(kind: str, key: str) -> str:
    """The search-language field of metric, param or tag `key` (`kind` is ``metrics`` ...).

    Keys outside ``[A-Za-z0-9_./-]`` go in back quotes, a back quote doubled
    (see docs/tracking-search.md, "Keys").
    """
    if _PLAIN_KEY.fullmatch(key):
        return f"{kind}.{key}"
    return f"{kind}.`{key.replace('`', '``')}`"


def pretty_json(value: Any) -> str:
    """Indented JSON for people (NaN and infinities as JavaScript writes them)."""
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def nonfinite(value: Any) -> bool:
    """Whether `value` is a float NaN or infinity (the Jinja test ``is nonfinite``)."""
    return isinstance(value, float) and not math.isfinite(value)


TESTS = {"nonfinite": nonfinite}
FILTERS = {
    "number": number,
    "timestamp": timestamp,
    "duration": duration,
    "size": size,
    "short": short,
    "pretty_json": pretty_json,
}
