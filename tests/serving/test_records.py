"""`/predict` bodies to model inputs: the pandas-free matrix path agrees with the pandas path."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlcycle.core import InputError
from mlcycle.models import ColumnSpec, Signature
from mlcycle.serving._records import _plain_matrix, frame_from_records, inputs_from_records
from mlcycle.serving._tensors import Matrix, Tensor, inputs_from_tensors

NUMERIC = Signature(
    (ColumnSpec("temp", "float64"), ColumnSpec("hr", "int64"), ColumnSpec("hum", "float64")),
    ColumnSpec("cnt", "float64"),
)
WITH_BOOL = Signature((*NUMERIC.inputs, ColumnSpec("holiday", "bool")), NUMERIC.output)


def _pandas_path(body: Any, signature: Signature) -> np.ndarray:
    return signature.validate(frame_from_records(body)).to_numpy(dtype=np.float64)


number = st.one_of(
    st.none(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
)
record = st.fixed_dictionaries(
    {"temp": number, "hr": number, "hum": number}, optional={"extra": st.text(max_size=3)}
)


@given(st.lists(record, min_size=1, max_size=20))
def test_plain_json_numbers_take_the_matrix_path_and_match_pandas(
    rows: list[dict[str, Any]],
) -> None:
    inputs = inputs_from_records(rows, NUMERIC)
    assert _plain_matrix(rows, NUMERIC) is not None  # no pandas was needed
    assert isinstance(inputs, Matrix) and inputs.names == ("temp", "hr", "hum")
    assert inputs.values.dtype == np.float64 and inputs.values.flags.c_contiguous
    np.testing.assert_array_equal(inputs.values, _pandas_path(rows, NUMERIC))


def test_the_three_body_shapes_give_the_same_matrix() -> None:
    rows = [{"temp": 20.5, "hr": 7, "hum": None}, {"hum": 0.3, "temp": -1, "hr": 23, "x": "y"}]
    columns = {"temp": [20.5, -1], "hr": [7, 23], "hum": [None, 0.3], "x": ["a", "b"]}
    want = np.array([[20.5, 7, np.nan], [-1, 23, 0.3]])
    for body in (rows, {"records": rows}, {"columns": columns}):
        got = inputs_from_records(body, NUMERIC)
        assert isinstance(got, Matrix)
        np.testing.assert_array_equal(got.values, want)


@pytest.mark.parametrize(
    ("body", "signature"),
    [
        ([{"temp": "1.5", "hr": 2, "hum": 0.5}], NUMERIC),  # a numeric string: pandas' rule
        ([{"temp": 1.5, "hr": 2}, {"temp": 2.5, "hr": 3, "hum": 0.1}], NUMERIC),  # a hole
        ([{"temp": 1.5, "hr": 2, "hum": 0.5, "holiday": True}], WITH_BOOL),
        ({"columns": {"temp": [1.0], "hr": [2], "hum": [3.0], "holiday": [0]}}, WITH_BOOL),
    ],
)
def test_other_bodies_take_the_pandas_path_to_the_same_matrix(
    body: Any, signature: Signature
) -> None:
    assert _plain_matrix(body, signature) is None
    got = inputs_from_records(body, signature)
    assert isinstance(got, Matrix)
    np.testing.assert_array_equal(got.values, _pandas_path(body, signature))


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ([{"temp": 1.0, "hr": 2}], ["Column 'hum' is missing"]),
        ([{"temp": 1.0, "hr": 2, "hum": 3.0}, {"temp": True, "hr": 2, "hum": 3.0}],
         ["Column 'temp'", "True", "row 1"]),
        ([{"temp": 1.0, "hr": "seven", "hum": 3.0}], ["Column 'hr'", "'seven'", "row 0"]),
        ([{"temp": [1.0], "hr": 2, "hum": 3.0}], ["column 'temp'", "scalars"]),
        ([{"temp": "inf", "hr": 2, "hum": 3.0}], ["column 'temp'", "finite"]),
        ([], ["no rows"]),
        ({"columns": {"temp": [1.0], "hr": [1, 2], "hum": [1.0]}}, ["all of one length"]),
        ("text", ["list of records"]),
    ],
)  # fmt: skip
def test_bad_bodies_fail_with_the_culprit_named(body: Any, needles: list[str]) -> None:
    with pytest.raises(InputError) as err:
        inputs_from_records(body, NUMERIC)
    assert all(n in str(err.value) for n in needles), str(err.value)


def test_a_string_signature_keeps_the_frame_for_batch_validation() -> None:
    signature = Signature((*NUMERIC.inputs, ColumnSpec("city", "string")), NUMERIC.output)
    frame = inputs_from_records([{"temp": 1.0, "hr": 2, "hum": 3.0, "city": "Oslo"}], signature)
    assert not isinstance(frame, Matrix) and list(frame["city"]) == ["Oslo"]


def test_tensors_become_a_matrix_in_signature_order() -> None:
    floats = Signature(tuple(ColumnSpec(n, "float64") for n in ("a", "b")), NUMERIC.output)
    one = Tensor("x", "FP32", (2, 2), np.array([1, 2, 3, 4], np.float32))
    got = inputs_from_tensors([one], floats)
    assert isinstance(got, Matrix) and got.values.dtype == np.float64
    np.testing.assert_array_equal(got.values, [[1, 2], [3, 4]])
    per_column = [Tensor("hum", "FP64", (2,), np.array([0.1, 0.2])),
                  Tensor("hr", "INT32", (2, 1), np.array([7, 8], np.int32)),
                  Tensor("temp", "FP64", (2,), np.array([np.nan, 5.0]))]  # fmt: skip
    got = inputs_from_tensors(per_column, NUMERIC)
    assert isinstance(got, Matrix)
    np.testing.assert_array_equal(got.values, [[np.nan, 7, 0.1], [5.0, 8, 0.2]])
    with pytest.raises(InputError, match=r"input 'x'.*finite"):
        inputs_from_tensors([Tensor("x", "FP64", (1, 2), np.array([1.0, np.inf]))], floats)
