"""The packed format of a metric chunk (`metric_chunks.data`).

A chunk of `n` points is `n` little-endian int64 steps, then `n` float64
values, then `n` float64 timestamps (seconds since the epoch): 24 bytes a
point, NaN and infinities kept bit for bit. Packing is a `tobytes` per
column, so a flush of a million points costs milliseconds, not a million
INSERTs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

_STEP = np.dtype("<i8")
_FLOAT = np.dtype("<f8")
POINT_BYTES = 24


def pack_points(
    steps: Sequence[int] | npt.ArrayLike,
    values: Sequence[float] | npt.ArrayLike,
    timestamps: Sequence[float] | npt.ArrayLike,
) -> tuple[int, bytes]:
    """Pack equal-length columns into `(n, data)` for one `metric_chunks` row.

    Raises:
        ValueError: if the columns differ in length.
    """
    s = np.asarray(steps, dtype=_STEP)
    v = np.asarray(values, dtype=_FLOAT)
    t = np.asarray(timestamps, dtype=_FLOAT)
    if not s.shape == v.shape == t.shape or s.ndim != 1:
        raise ValueError(
            f"steps, values and timestamps differ in shape: {s.shape} {v.shape} {t.shape}"
        )
    return len(s), s.tobytes() + v.tobytes() + t.tobytes()


def unpack_points(
    n: int, data: bytes
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return `(steps, values, timestamps)` arrays (read-only views) of a packed chunk.

    Raises:
        ValueError: if `data` is not `24 * n` bytes.
    """
    if len(data) != POINT_BYTES * n:
        raise ValueError(
            f"metric chunk of {n} points holds {len(data)} bytes, not {POINT_BYTES * n}"
        )
    steps = np.frombuffer(data, dtype=_STEP, count=n)
    values = np.frombuffer(data, dtype=_FLOAT, count=n, offset=8 * n)
    stamps = np.frombuffer(data, dtype=_FLOAT, count=n, offset=16 * n)
    return (
        steps.astype(np.int64, copy=False),
        values.astype(np.float64, copy=False),
        stamps.astype(np.float64, copy=False),
    )
