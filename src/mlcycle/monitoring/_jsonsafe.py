"""Turn nested results into JSON-safe Python values (NaN and inf become None)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def json_safe(value: Any) -> Any:
    """Return `value` with NumPy scalars unwrapped and non-finite floats as None.

    Args:
        value: nested mappings, lists, tuples, arrays, scalars and objects
            with a ``to_dict()`` method (e.g. :class:`DriftResult`).

    Returns:
        The same structure made of dict, list, str, int, float, bool and None;
        unknown objects become ``str(value)``.
    """
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not isinstance(value, (Mapping, np.ndarray)):
        return json_safe(to_dict())
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)
