"""JSON-safe values for API responses: non-finite floats travel as strings.

JSON has no NaN or infinity, and a metric may be either. Every response of
the API writes them as the strings `"NaN"`, `"Infinity"` and `"-Infinity"`
(the same spelling as :meth:`mlcycle.tracking.RunBatch.to_json` uses for
uploads); clients turn them back with `float()`.
"""

from __future__ import annotations

from typing import Any

from mlcycle.tracking._batch import finite_or_text


def json_safe(value: Any) -> Any:
    """Return `value` with every non-finite float (nested in dicts, lists, tuples) as text.

    Numpy scalars become Python numbers; other values are returned unchanged.
    """
    if isinstance(value, float):
        return finite_or_text(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and type(value).__module__ == "numpy":
        return json_safe(item())
    return value
