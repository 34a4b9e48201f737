"""windows() and with_reference(): fixed and sliding, by time and by rows."""

from __future__ import annotations

import pandas as pd
import pytest

from mlcycle.core import DataError
from mlcycle.monitoring import windows, with_reference


def _log(hours: int = 48) -> pd.DataFrame:
    times = pd.date_range("2026-01-01", periods=hours, freq="h")
    return pd.DataFrame({"t": times[::-1], "x": range(hours)})  # out of order on purpose


def test_fixed_time_windows_cover_every_row_once() -> None:
    cuts = list(windows(_log(), size="12h", time_column="t"))
    assert [len(w.frame) for w in cuts] == [12, 12, 12, 12]
    assert cuts[0].start == pd.Timestamp("2026-01-01") and cuts[0].end == pd.Timestamp(
        "2026-01-01 12:00"
    )
    assert sorted(pd.concat([w.frame for w in cuts])["x"]) == list(range(48))


def test_sliding_time_windows_overlap() -> None:
    cuts = list(windows(_log(), size="24h", step="12h", time_column="t"))
    assert [len(w.frame) for w in cuts] == [24, 24, 24, 12]


def test_gaps_give_empty_windows_not_errors() -> None:
    log = _log().iloc[[0, 1, 46, 47]]
    assert [len(w.frame) for w in windows(log, size="12h", time_column="t")] == [2, 0, 0, 2]
    assert list(windows(log.iloc[:0], size="12h", time_column="t")) == []


def test_row_windows_over_the_log_order() -> None:
    cuts = list(windows(_log(10), size=4, step=3))
    assert [(w.start, w.end, len(w.frame)) for w in cuts] == [(0, 4, 4), (3, 7, 4), (6, 10, 4)]


def test_references_training_period_and_previous() -> None:
    log, training = _log(), pd.DataFrame({"x": [1, 2]})
    fixed = list(with_reference(log, reference=training, size="24h", time_column="t"))
    assert all(ref is training for ref, _ in fixed) and len(fixed) == 2
    period = ("2026-01-01", "2026-01-01 06:00")
    (ref, _), _ = with_reference(log, reference=period, size="24h", time_column="t")
    assert len(ref) == 6
    pairs = list(with_reference(log, reference="previous", size="12h", time_column="t"))
    assert len(pairs) == 3 and pairs[0][0]["x"].min() == 36  # window 1's reference is window 0


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(DataError, match="'when'"):
        list(windows(_log(), size="1h", time_column="when"))
    with pytest.raises(DataError, match="positive"):
        list(windows(_log(), size=0))
    with pytest.raises(DataError, match="'latest'"):
        list(with_reference(_log(), reference="latest", size=4))
    with pytest.raises(DataError, match="time_column"):
        list(with_reference(_log(), reference=("2026-01-01", "2026-01-02"), size=4))
