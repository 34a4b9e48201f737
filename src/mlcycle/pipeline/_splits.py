"""Time order, the training period and the windows a replay walks through."""

from __future__ import annotations

import pandas as pd

from mlcycle.core import Config, ConfigError, DataError


def in_time_order(frame: pd.DataFrame, time_column: str | None) -> pd.DataFrame:
    """Return `frame` stably sorted by `time_column` (file order kept for ties or no column).

    Raises:
        DataError: if the column is missing or holds values that are not dates/times.
    """
    if time_column is None:
        return frame.reset_index(drop=True)
    if time_column not in frame.columns:
        raise DataError(f"Time column '{time_column}' is missing from the data")
    times = pd.to_datetime(frame[time_column], errors="coerce")
    bad = times.isna() & frame[time_column].notna()
    if bad.any() or times.isna().all():
        pos = int(bad.to_numpy().argmax())
        raise DataError(
            f"Time column '{time_column}' must hold dates or times; "
            f"got {frame[time_column].iloc[pos]!r} in row {pos}"
        )
    order = times.argsort(kind="stable")
    return frame.iloc[order].reset_index(drop=True)


def split_training_period(frame: pd.DataFrame, config: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows in time order into the training period and the rest (to replay).

    Raises:
        ConfigError: if `split.train_end` is not a date.
        DataError: if either part is empty.
    """
    data = config.require_data()
    ordered = in_time_order(frame, data.time_column)
    if data.time_column and config.split.train_end:
        try:
            end = pd.Timestamp(config.split.train_end)
        except ValueError:
            raise ConfigError(
                f"split.train_end must be a date; got {config.split.train_end!r}"
            ) from None
        cut = int((pd.to_datetime(ordered[data.time_column]) < end).sum())
    else:
        cut = int(len(ordered) * config.split.train_fraction)
    if cut == 0 or cut == len(ordered):
        raise DataError(f"the split leaves no rows to {'train on' if cut == 0 else 'replay'}")
    return ordered.iloc[:cut].reset_index(drop=True), ordered.iloc[cut:].reset_index(drop=True)


def replay_windows(frame: pd.DataFrame, config: Config) -> list[tuple[str, pd.DataFrame]]:
    """Cut the replayed rows into labeled windows, in time order.

    With a time column: calendar periods of `split.window` (a pandas
    frequency such as `MS` or `W`), labeled by their start date (`2012-03`
    for months). Without: `split.n_windows` equal slices, `w01`, `w02`...

    Raises:
        ConfigError: if `split.window` is not a pandas frequency.
    """
    data = config.require_data()
    if data.time_column is None:
        n = min(config.split.n_windows, len(frame))
        bounds = [round(i * len(frame) / n) for i in range(n + 1)]
        return [(f"w{i + 1:02d}", frame.iloc[bounds[i] : bounds[i + 1]]) for i in range(n)]
    times = pd.to_datetime(frame[data.time_column])
    try:
        grouped = list(
            frame.assign(_t=times).groupby(pd.Grouper(key="_t", freq=config.split.window))
        )
    except ValueError:
        raise ConfigError(
            f"split.window must be a pandas frequency such as MS or W; got {config.split.window!r}"
        ) from None
    fmt = "%Y-%m" if config.split.window in ("MS", "ME", "M") else "%Y-%m-%d"
    return [
        (pd.Timestamp(str(start)).strftime(fmt), g.drop(columns="_t"))
        for start, g in grouped
        if len(g)
    ]
