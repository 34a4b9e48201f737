"""Windows over a time column or over the inference log's row order, and their references."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mlcycle.core import DataError


@dataclass(frozen=True)
class Window:
    """One window: rows with start <= key < end.

    Attributes:
        start: first time (a ``pd.Timestamp``) or first row position (int).
        end: the exclusive end, same type as `start`.
        frame: the rows, possibly none (a window with no rows is still yielded).
    """

    start: Any
    end: Any
    frame: pd.DataFrame

    @property
    def label(self) -> str:
        """``"start .. end"`` for reports."""
        return f"{self.start} .. {self.end}"


def windows(
    frame: pd.DataFrame,
    *,
    size: str | pd.Timedelta | int,
    step: str | pd.Timedelta | int | None = None,
    time_column: str | None = None,
) -> Iterator[Window]:
    """Fixed (tumbling) or sliding windows over a time column or over row order.

    With `time_column`, `size` and `step` are durations (``"7D"``,
    ``pd.Timedelta(hours=6)``); windows start at the first timestamp and
    rows are ordered by time (stable sort). Without it, they are row
    counts over the frame's order, e.g. the inference log's arrival order.
    ``step`` defaults to ``size`` (fixed windows); a smaller step slides.

    Args:
        frame: the rows, shape (n_rows, n_columns).
        size: window length (a duration, or rows).
        step: distance between window starts (a duration, or rows).
        time_column: the column of timestamps, or None for row order.

    Yields:
        :class:`Window` objects in order, including empty ones inside the span.

    Raises:
        DataError: on a missing time column or a size/step that is not positive.
    """
    if time_column is None:
        yield from _row_windows(frame, int(size), int(step if step is not None else size))  # type: ignore[arg-type]
        return
    if time_column not in frame.columns:
        raise DataError(f"Time column {time_column!r} is missing from the frame")
    length, stride = pd.Timedelta(size), pd.Timedelta(step if step is not None else size)
    if length <= pd.Timedelta(0) or stride <= pd.Timedelta(0):
        raise DataError(f"Window size and step must be positive, got {size!r} and {step!r}")
    ordered = frame.sort_values(time_column, kind="stable")
    times = pd.to_datetime(ordered[time_column])
    if times.empty:
        return
    start, last = times.iloc[0], times.iloc[-1]
    while start <= last:
        lo, hi = times.searchsorted(start, "left"), times.searchsorted(start + length, "left")
        yield Window(start, start + length, ordered.iloc[lo:hi])
        start += stride


def _row_windows(frame: pd.DataFrame, size: int, step: int) -> Iterator[Window]:
    if size <= 0 or step <= 0:
        raise DataError(f"Window size and step must be positive row counts, got {size} and {step}")
    for start in range(0, max(len(frame) - size, 0) + 1, step):
        yield Window(start, start + size, frame.iloc[start : start + size])


def with_reference(
    frame: pd.DataFrame,
    *,
    reference: pd.DataFrame | tuple[Any, Any] | str,
    size: str | pd.Timedelta | int,
    step: str | pd.Timedelta | int | None = None,
    time_column: str | None = None,
) -> Iterator[tuple[pd.DataFrame, Window]]:
    """Pair each window with its reference window.

    Args:
        frame: the rows to cut into windows (see :func:`windows`).
        reference: a frame (e.g. the training data); a ``(start, end)``
            period of `frame`'s time column (start <= t < end); or
            ``"previous"``, the window before (the first window is skipped).
        size: as for :func:`windows`.
        step: as for :func:`windows`.
        time_column: as for :func:`windows`; required for a period.

    Yields:
        (reference frame, :class:`Window`) pairs.

    Raises:
        DataError: on an unknown reference choice or a period without a time column.
    """
    cuts = windows(frame, size=size, step=step, time_column=time_column)
    if isinstance(reference, str):
        if reference != "previous":
            raise DataError(f"reference must be a frame, a period or 'previous', got {reference!r}")
        previous = None
        for window in cuts:
            if previous is not None:
                yield previous.frame, window
            previous = window
        return
    fixed = (
        reference if isinstance(reference, pd.DataFrame) else _period(frame, reference, time_column)
    )
    for window in cuts:
        yield fixed, window


def _period(frame: pd.DataFrame, period: tuple[Any, Any], time_column: str | None) -> pd.DataFrame:
    if time_column is None:
        raise DataError("A reference period needs a time_column")
    times = pd.to_datetime(frame[time_column])
    start, end = pd.Timestamp(period[0]), pd.Timestamp(period[1])
    return frame[(times >= start) & (times < end)]
