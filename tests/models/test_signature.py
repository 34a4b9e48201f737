"""Signatures: inference, the dict round trip and validation of untrusted input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlcycle.core import SignatureError
from mlcycle.models import ColumnSpec, Signature, dtype_of


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "temp": [0.2, 0.4, 0.6],
            "hr": [1, 2, 3],
            "holiday": [True, False, True],
            "season": ["spring", "summer", "fall"],
        }
    )


def _signature() -> Signature:
    return Signature.infer(_frame(), pd.Series([1.0, 2.0, 3.0], name="cnt"))


def test_infer_maps_pandas_dtypes() -> None:
    sig = Signature.infer(
        _frame(), pd.Series(["a", "b", "a"], name="label"), classes=np.array(["a", "b"])
    )
    assert sig.inputs == (
        ColumnSpec("temp", "float64"),
        ColumnSpec("hr", "int64"),
        ColumnSpec("holiday", "bool"),
        ColumnSpec("season", "string"),
    )
    assert sig.output == ColumnSpec("label", "string")
    assert sig.classes == ("a", "b")
    assert all(type(c) is str for c in sig.classes)  # numpy scalars become plain values
    assert dtype_of(pd.Series([1.5, np.nan])) == "float64"


def test_to_dict_from_dict_round_trip() -> None:
    sig = Signature.infer(
        _frame(), pd.Series([0, 1, 1], name="y"), classes=[np.int64(0), np.int64(1)]
    )
    data = sig.to_dict()
    assert data["inputs"][0] == {"name": "temp", "dtype": "float64"}
    assert data["classes"] == [0, 1]
    assert Signature.from_dict(data) == sig
    regression = _signature()
    assert "classes" not in regression.to_dict()
    assert Signature.from_dict(regression.to_dict()) == regression


def test_missing_column_is_named() -> None:
    with pytest.raises(SignatureError, match="Column 'hr' is missing") as err:
        _signature().validate(_frame().drop(columns="hr"))
    assert "temp, hr, holiday, season" in str(err.value)


def test_wrong_type_names_column_value_and_row() -> None:
    frame = _frame().astype({"temp": object})
    frame.loc[2, "temp"] = "warm"
    with pytest.raises(SignatureError) as err:
        _signature().validate(frame)
    assert str(err.value) == "Column 'temp' must be float64; got 'warm' in row 2"


def test_numeric_strings_are_coerced_and_missing_values_allowed() -> None:
    frame = _frame().astype({"temp": object})
    frame.loc[0, "temp"] = "0.25"
    frame.loc[1, "temp"] = None
    out = _signature().validate(frame)
    assert out["temp"].dtype == np.float64
    assert out["temp"].iloc[0] == 0.25
    assert np.isnan(out["temp"].iloc[1])


def test_extra_columns_ignored_and_order_follows_signature() -> None:
    shuffled = _frame().assign(extra="x")[["season", "extra", "hr", "holiday", "temp"]]
    out = _signature().validate(shuffled)
    assert list(out.columns) == ["temp", "hr", "holiday", "season"]
    assert out["hr"].tolist() == [1.0, 2.0, 3.0]
    assert out["season"].tolist() == ["spring", "summer", "fall"]


def test_booleans_rejected_in_numeric_columns() -> None:
    sig = _signature()
    with pytest.raises(SignatureError, match="Column 'temp' must be float64; got True in row 0"):
        sig.validate(_frame().assign(temp=[True, False, True]))
    mixed = _frame().astype({"hr": object})
    mixed.loc[1, "hr"] = True
    with pytest.raises(SignatureError, match="Column 'hr' must be int64; got True in row 1"):
        sig.validate(mixed)


def test_bool_column_accepts_0_1_and_rejects_other_values() -> None:
    sig = _signature()
    assert sig.validate(_frame().assign(holiday=[0, 1, 0]))["holiday"].tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(SignatureError, match="Column 'holiday' must be bool; got 'yes' in row 1"):
        sig.validate(_frame().assign(holiday=[True, "yes", False]))
