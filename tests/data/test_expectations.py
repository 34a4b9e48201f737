"""Declared expectations, checked with pandera on the real bike data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlcycle.core import ColumnExpectation, ExpectationsFailed, parse_config
from mlcycle.data._expectations import check_expectations, expectation_failures

C = ColumnExpectation

BIKE_SPEC = {
    "instant": C(dtype="int", unique=True, nullable=False),
    "dteday": C(dtype="datetime", nullable=False),
    "season": C(dtype="int", allowed=(1, 2, 3, 4)),
    "hr": C(dtype="int", minimum=0, maximum=23),
    "temp": C(dtype="float", minimum=0, maximum=1, nullable=False),
    "weathersit": C(dtype="int", allowed=(1, 2, 3, 4)),
    "cnt": C(dtype="int", minimum=1),
}


def test_the_bike_data_meets_a_true_spec(bike: pd.DataFrame) -> None:
    check_expectations(bike, BIKE_SPEC, "hour.csv")
    assert expectation_failures(bike, BIKE_SPEC) == []


def test_a_wrong_range_names_temp_and_its_rows(bike: pd.DataFrame) -> None:
    spec = {**BIKE_SPEC, "temp": C(dtype="float", minimum=0.0, maximum=0.9)}
    hot = bike.index[bike["temp"] > 0.9]
    with pytest.raises(ExpectationsFailed) as caught:
        check_expectations(bike, spec, "hour.csv")
    message = str(caught.value)
    first_five = "; ".join(f"{float(bike.at[i, 'temp'])!r} in row {i}" for i in hot[:5])
    assert message.startswith(f"hour.csv: column 'temp' fails in_range(0.0, 0.9): {first_five}")
    assert f"(and {len(hot) - 5} more)" in message
    assert "\n" not in message
    failures = caught.value.failures
    assert [f["index"] for f in failures] == list(hot)
    assert {f["column"] for f in failures} == {"temp"}
    assert failures[0]["failure_case"] == pytest.approx(bike.at[hot[0], "temp"])


def test_every_kind_of_failure_is_reported_at_once() -> None:
    frame = pd.DataFrame(
        {
            "id": [1, 2, 2, 4],
            "size": [1.0, np.nan, 3.0, 4.5],
            "colour": ["red", "blue", "mauve", None],
            "when": ["2024-01-01", "2024-02-30", "2024-03-01", "2024-04-01"],
            "flag": [1, 0, 1, 0],
        }
    )
    spec = {
        "id": C(dtype="int", unique=True),
        "size": C(dtype="int", nullable=False),
        "colour": C(dtype="str", allowed=("red", "blue")),
        "when": C(dtype="datetime"),
        "flag": C(dtype="bool"),
        "absent": C(),
    }
    got = {(f["column"], f["check"], str(f["failure_case"]), f["index"]) for f in
           expectation_failures(frame, spec)}  # fmt: skip
    assert got == {
        ("id", "field_uniqueness", "2", 1),
        ("id", "field_uniqueness", "2", 2),
        ("size", "not_nullable", "None", 1),
        ("size", "whole_number", "4.5", 3),
        ("colour", "isin(['red', 'blue'])", "mauve", 2),
        ("when", "parses_as_datetime", "2024-02-30", 1),
        ("flag", "dtype('bool')", "int64", None),
        ("absent", "column_in_dataframe", "absent", None),
    }


def test_failures_come_in_declared_column_order() -> None:
    frame = pd.DataFrame({"a": [5, 6], "b": [-1, 0]})
    spec = {"b": C(minimum=0), "a": C(maximum=5)}
    with pytest.raises(ExpectationsFailed, match=r"column 'b' fails greater_than_or_equal_to"):
        check_expectations(frame, spec, "t.csv")


def test_a_missing_column_is_named() -> None:
    with pytest.raises(ExpectationsFailed, match=r"t\.csv: column 'price' fails column_in"):
        check_expectations(pd.DataFrame({"a": [1]}), {"price": C(minimum=0)}, "t.csv")


def test_expectations_parse_from_config() -> None:
    config = parse_config(
        {
            "data": {
                "path": "hour.csv",
                "target": "cnt",
                "expectations": {"temp": {"dtype": "float", "minimum": 0, "maximum": 1}},
            }
        }
    )
    frame = pd.DataFrame({"temp": [0.5, 1.5]})
    with pytest.raises(ExpectationsFailed, match=r"1\.5 in row 1"):
        check_expectations(frame, config.require_data().expectations, "x.csv")
