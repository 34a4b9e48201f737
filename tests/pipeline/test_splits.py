"""Time order, the training period split and replay windows, on the bike data."""

from __future__ import annotations

import pandas as pd
import pytest
from tests.conftest import BIKE_DATA, bike_config

from mlcycle.core import ConfigError, DataError
from mlcycle.pipeline import in_time_order, replay_windows, split_training_period


def test_in_time_order_is_stable() -> None:
    frame = pd.DataFrame(
        {"t": ["2011-01-02", "2011-01-01", "2011-01-02", "2011-01-01", "2011-01-02"], "v": range(5)}
    )
    out = in_time_order(frame, "t")
    assert out["v"].tolist() == [1, 3, 0, 2, 4]  # ties keep file order
    assert out.index.tolist() == list(range(5))
    shuffled = frame.iloc[[4, 2, 0, 3, 1]]
    assert in_time_order(shuffled, None)["v"].tolist() == [4, 2, 0, 3, 1]
    assert in_time_order(shuffled, None).index.tolist() == list(range(5))


def test_in_time_order_rejects_garbage_naming_the_row() -> None:
    frame = pd.DataFrame({"t": ["2011-01-02", "2011-01-01", "soon", "2011-01-03"], "v": range(4)})
    with pytest.raises(
        DataError, match="Time column 't' must hold dates or times; got 'soon' in row 2"
    ):
        in_time_order(frame, "t")
    with pytest.raises(DataError, match="Time column 'when' is missing"):
        in_time_order(frame, "when")
    with pytest.raises(DataError, match="must hold dates or times"):
        in_time_order(pd.DataFrame({"t": [None, None]}), "t")


def test_split_on_train_end(bike: pd.DataFrame) -> None:
    train, rest = split_training_period(bike, bike_config())
    assert (len(train), len(rest)) == (8645, 8734)
    assert train["dteday"].max() == "2011-12-31"
    assert rest["dteday"].min() == "2012-01-01"
    assert train.index.tolist() == list(range(len(train)))


def test_split_on_train_fraction(bike: pd.DataFrame) -> None:
    config = bike_config(split={"train_fraction": 0.25})
    train, rest = split_training_period(bike, config)
    assert len(train) == int(len(bike) * 0.25) == 4344
    assert len(rest) == len(bike) - 4344
    assert pd.to_datetime(train["dteday"]).max() <= pd.to_datetime(rest["dteday"]).min()


def test_split_errors(bike: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match=r"split\.train_end must be a date; got 'someday'"):
        split_training_period(bike, bike_config(split={"train_end": "someday"}))
    with pytest.raises(DataError, match="no rows to train on"):
        split_training_period(bike, bike_config(split={"train_end": "2000-01-01"}))
    with pytest.raises(DataError, match="no rows to replay"):
        split_training_period(bike, bike_config(split={"train_end": "2030-01-01"}))


def test_replay_windows_are_calendar_months(bike: pd.DataFrame) -> None:
    _, rest = split_training_period(bike, bike_config())
    windows = replay_windows(rest, bike_config())
    assert [label for label, _ in windows] == [f"2012-{m:02d}" for m in range(1, 13)]
    assert sum(len(w) for _, w in windows) == 8734
    assert list(windows[0][1].columns) == list(bike.columns)  # no helper column leaks out
    january = windows[0][1]
    assert january["dteday"].str.startswith("2012-01").all()
    assert len(january) == int((rest["mnth"] == 1).sum())


def test_replay_windows_without_time_column(bike: pd.DataFrame) -> None:
    config = bike_config(data={**BIKE_DATA, "time_column": None}, split={"n_windows": 4})
    rows = bike.iloc[:10]
    windows = replay_windows(rows, config)
    assert [label for label, _ in windows] == ["w01", "w02", "w03", "w04"]
    assert sorted(len(w) for _, w in windows) == [2, 2, 3, 3]  # as equal as 10 rows allow
    assert pd.concat([w for _, w in windows]).equals(rows)
    assert len(replay_windows(bike.iloc[:3], config)) == 3  # never an empty window


def test_replay_windows_bad_frequency(bike: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match=r"split\.window must be a pandas frequency"):
        replay_windows(bike.iloc[:50], bike_config(split={"window": "fortnightly"}))
