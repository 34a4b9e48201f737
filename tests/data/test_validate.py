"""validate: schema, dtype, missing-value and range checks against the data config."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlcycle.core import DataConfig, DataError
from mlcycle.data import BIKE_SHARING_CSV, infer_schema, validate

BIKE = DataConfig(
    path=str(BIKE_SHARING_CSV),
    target="cnt",
    time_column="dteday",
    numeric=("hr", "temp", "atemp", "hum", "windspeed"),
    categorical=("season", "yr", "mnth", "holiday", "weekday", "workingday", "weathersit"),
)


def _reference(bike: pd.DataFrame) -> dict[str, dict[str, object]]:
    return {k: v.to_dict() for k, v in infer_schema(bike).items()}


def test_bike_data_is_valid(bike: pd.DataFrame) -> None:
    report = validate(bike, BIKE, reference_schema=_reference(bike))
    assert report.errors == ()
    assert report.warnings == ()
    report.raise_for_errors("hour.csv")  # does not raise
    checked = {c.column for c in report.checks}
    assert checked == {*BIKE.features, "cnt"}


def test_missing_column_is_an_error_naming_it(bike: pd.DataFrame) -> None:
    report = validate(bike.drop(columns=["hum"]), BIKE)
    assert [(c.name, c.column) for c in report.errors] == [("schema", "hum")]
    with pytest.raises(DataError, match=r"hour\.csv: column 'hum': is missing from the data"):
        report.raise_for_errors("hour.csv")


def test_several_errors_are_counted(bike: pd.DataFrame) -> None:
    report = validate(bike.drop(columns=["hum", "temp", "cnt"]), BIKE)
    assert {c.column for c in report.errors} == {"hum", "temp", "cnt"}
    assert report.checks[0].severity == "error"  # errors first
    with pytest.raises(DataError, match=r"\(and 2 more\)"):
        report.raise_for_errors("x.csv")


def test_garbage_value_in_numeric_column_names_the_row(bike: pd.DataFrame) -> None:
    frame = bike.copy()
    frame["temp"] = frame["temp"].astype(object)
    frame.loc[1234, "temp"] = "hot"
    frame.loc[5000, "temp"] = "cold"
    report = validate(frame, BIKE)
    (error,) = report.errors
    assert error.column == "temp"
    assert "'hot'" in error.detail
    assert "row 1234" in error.detail
    assert "(2 such rows)" in error.detail


def test_numeric_text_is_accepted(bike: pd.DataFrame) -> None:
    frame = bike.copy()
    frame["temp"] = frame["temp"].astype(str)
    report = validate(frame, BIKE)
    assert report.errors == ()
    assert any(c.column == "temp" and c.detail == "numeric text" for c in report.checks)


def test_non_numeric_regression_target_is_error(bike: pd.DataFrame) -> None:
    frame = bike.copy()
    frame["cnt"] = np.where(frame["cnt"] > 100, "many", "few")
    report = validate(frame, BIKE)
    assert [c.column for c in report.errors] == ["cnt"]
    # As a classification target the same column is fine.
    cls = BIKE.model_copy(update={"task": "classification"})
    assert validate(frame, cls).errors == ()


def test_all_missing_column_is_an_error(bike: pd.DataFrame) -> None:
    frame = bike.copy()
    frame["windspeed"] = np.nan
    report = validate(frame, BIKE)
    assert [(c.name, c.column, c.detail) for c in report.errors] == [
        ("missing", "windspeed", "has only missing values")
    ]


def test_some_missing_values_warn(bike: pd.DataFrame) -> None:
    frame = bike.copy()
    frame.loc[frame.index[:100], "hum"] = np.nan
    frame.loc[frame.index[:10], "cnt"] = np.nan
    report = validate(frame, BIKE)
    assert report.errors == ()
    details = {c.column: c.detail for c in report.warnings}
    assert details["hum"].startswith("100 missing values")
    assert details["cnt"].endswith(": rows dropped")


def test_out_of_range_values_warn(bike: pd.DataFrame) -> None:
    frame = bike.copy()
    frame.loc[frame.index[:3], "temp"] = 2.5  # temp is normalised to [0.02, 1]
    report = validate(frame, BIKE, reference_schema=_reference(bike))
    assert report.errors == ()
    (warning,) = report.warnings
    assert (warning.name, warning.column) == ("range", "temp")
    assert warning.detail.startswith("3 values outside [0.02, 1]")
    assert report.to_dict()["checks"][0]["column"] == "temp"
