"""OIP decoding and encoding units: every datatype, JSON and binary tensors, frames, errors."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from tritonclient.http import InferResult

from mlcycle.core import InputError
from mlcycle.models import ColumnSpec, Signature
from mlcycle.serving._binary import array_from_raw, raw_from_array, split_body
from mlcycle.serving._protocol import (
    Output,
    encode_infer_response,
    json_values,
    loads_json,
    model_outputs,
    oip_metadata,
    parse_infer_request,
)
from mlcycle.serving._tensors import Tensor, check_finite_frame, frame_from_tensors

SIGNATURE = Signature(
    (ColumnSpec("temp", "float64"), ColumnSpec("hour", "int64"), ColumnSpec("rain", "bool"),
     ColumnSpec("city", "string")),
    ColumnSpec("count", "float64"),
)  # fmt: skip
CLASSIFIER = Signature(SIGNATURE.inputs, ColumnSpec("busy", "string"), ("no", "yes"))

NUMERIC = {"INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
           "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
           "FP16": np.float16, "FP32": np.float32, "FP64": np.float64}  # fmt: skip


def tensor(name: str, datatype: str, values: Any, shape: tuple[int, ...] | None = None) -> Tensor:
    array = np.asarray(values, dtype=object if datatype == "BYTES" else None)
    return Tensor(name, datatype, shape or (len(array),), array.reshape(-1))


def columns(n: int = 3) -> list[Tensor]:
    rng = np.random.default_rng(7)
    return [
        tensor("temp", "FP32", rng.random(n).astype(np.float32)),
        tensor("hour", "UINT8", rng.integers(0, 24, n).astype(np.uint8)),
        tensor("rain", "BOOL", rng.random(n) > 0.5),
        tensor("city", "BYTES", ["Porto", "Zürich", "Oslo"][:n]),
    ]


# --- JSON data ---------------------------------------------------------------------------------


@pytest.mark.parametrize("datatype", sorted(NUMERIC))
def test_json_numbers_decode_to_every_numeric_datatype(datatype: str) -> None:
    values = json_values([[1, 2], [3, 4]], datatype, [2, 2], "input 'x'")
    assert values.tolist() == [1, 2, 3, 4]
    assert values.dtype == (np.float64 if datatype.startswith("FP") else NUMERIC[datatype])


def test_json_bool_bytes_and_null_as_missing() -> None:
    assert json_values([True, False], "BOOL", [2], "x").tolist() == [True, False]
    assert json_values(["a", 3], "BYTES", [2], "x").tolist() == ["a", 3]
    assert np.isnan(json_values([1.5, None], "FP64", [2], "x")[1])


@pytest.mark.parametrize(
    ("data", "datatype", "needle"),
    [([256], "UINT8", "out of range for UINT8"), ([-1], "UINT64", "out of range"),
     ([-129], "INT8", "out of range"), ([2**63], "INT64", "out of range"),
     ([1.5], "INT32", "must be integers; got 1.5 in row 0"), ([True], "INT64", "True"),
     ([0.1, "warm"], "FP64", "'warm' in row 1"), ([1], "BOOL", "true/false"),
     ([{"v": 1}], "BYTES", "row 0"), ([[1], 2], "FP64", "nested")],
)  # fmt: skip
def test_json_values_out_of_range_or_mistyped_name_the_input(
    data: list[Any], datatype: str, needle: str
) -> None:
    with pytest.raises(InputError, match="input 'x'") as err:
        json_values(data, datatype, [len(data)], "input 'x'")
    assert needle in str(err.value)


def test_loads_json_errors_are_input_errors() -> None:
    with pytest.raises(InputError, match="not valid JSON"):
        loads_json(b"{oops")
    with pytest.raises(InputError, match="too large"):
        loads_json(b"[" + b"9" * 400 + b"]")


# --- binary tensors ----------------------------------------------------------------------------


@pytest.mark.parametrize("datatype", sorted(NUMERIC))
def test_raw_bytes_round_trip_every_numeric_datatype(datatype: str) -> None:
    values = np.arange(6).astype(NUMERIC[datatype])
    raw = raw_from_array(datatype, values)
    assert raw == values.astype(values.dtype.newbyteorder("<")).tobytes()  # little-endian
    np.testing.assert_array_equal(array_from_raw(datatype, raw, 6, "x"), values)


def test_raw_bool_and_length_prefixed_bytes() -> None:
    assert raw_from_array("BOOL", np.array([True, False])) == b"\x01\x00"
    assert array_from_raw("BOOL", b"\x01\x00", 2, "x").tolist() == [True, False]
    raw = raw_from_array("BYTES", np.array(["ab", "Zürich", b"\x00z"], dtype=object))
    assert raw[:6] == struct.pack("<I", 2) + b"ab"
    assert array_from_raw("BYTES", raw, 3, "x").tolist() == ["ab", "Zürich", "\x00z"]


@pytest.mark.parametrize(
    ("datatype", "raw", "count", "needle"),
    [("FP64", b"\x00" * 12, 2, "12 bytes of FP64"), ("BOOL", b"\x02", 1, "0 or 1"),
     ("BYTES", struct.pack("<I", 9) + b"ab", 1, "truncated"), ("BYTES", b"\x01", 1, "ends"),
     ("BYTES", struct.pack("<I", 1) + b"\xff", 1, "UTF-8"),
     ("BYTES", struct.pack("<I", 1) + b"ab", 1, "left after")],
)  # fmt: skip
def test_bad_raw_bytes_are_input_errors(datatype: str, raw: bytes, count: int, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        array_from_raw(datatype, raw, count, "input 'x'")


def test_binary_request_body_decodes_each_input_from_its_slice() -> None:
    temp, city = np.array([0.5, -1.25]), np.array(["a", "bc"], dtype=object)
    blobs = [raw_from_array("FP64", temp), raw_from_array("BYTES", city)]
    header = orjson.dumps({"id": "r1", "inputs": [
        {"name": "temp", "datatype": "FP64", "shape": [2],
         "parameters": {"binary_data_size": len(blobs[0])}},
        {"name": "hour", "datatype": "INT64", "shape": [2], "data": [7, 8]},
        {"name": "city", "datatype": "BYTES", "shape": [2, 1],
         "parameters": {"binary_data_size": len(blobs[1])}}],
        "outputs": [{"name": "count", "parameters": {"binary_data": True}}]})  # fmt: skip
    request = parse_infer_request(header + b"".join(blobs), str(len(header)))
    assert request.id == "r1" and request.outputs == [("count", True)]
    got = {t.name: t.values.tolist() for t in request.inputs}
    assert got == {"temp": [0.5, -1.25], "hour": [7, 8], "city": ["a", "bc"]}
    assert request.inputs[2].shape == (2, 1)


@pytest.mark.parametrize(
    ("header_length", "tail", "needle"),
    [("abc", b"", "Inference-Header-Content-Length"), ("99999", b"", "Inference-Header"),
     (None, b"", "exceeds the binary data"), ("-", b"", "integer")],
)  # fmt: skip
def test_bad_binary_framing_is_an_input_error(
    header_length: str | None, tail: bytes, needle: str
) -> None:
    header = orjson.dumps({"inputs": [{"name": "temp", "datatype": "FP64", "shape": [1],
                                       "parameters": {"binary_data_size": 8}}]})  # fmt: skip
    with pytest.raises(InputError, match=needle):
        parse_infer_request(header + tail, header_length)


def test_split_body_and_trailing_bytes() -> None:
    assert split_body(b"{}xyz", "2") == (b"{}", b"xyz")
    header = orjson.dumps({"inputs": [{"name": "a", "datatype": "FP64", "shape": [1],
                                       "data": [1.0]}]})  # fmt: skip
    with pytest.raises(InputError, match="3 bytes of binary data follow"):
        parse_infer_request(header + b"xyz", str(len(header)))


# --- tensors to the model's frame ------------------------------------------------------------


def test_one_tensor_per_column_converts_to_signature_dtypes() -> None:
    frame = frame_from_tensors(columns(), SIGNATURE)
    assert list(frame.columns) == SIGNATURE.input_names
    assert frame["temp"].dtype == np.float64 and frame["hour"].dtype == np.int64
    assert frame["rain"].dtype == bool
    assert frame["city"].tolist() == ["Porto", "Zürich", "Oslo"]
    pd.testing.assert_frame_equal(SIGNATURE.validate(frame), SIGNATURE.validate(frame))


def test_a_single_n_by_k_matrix_is_split_into_the_signature_columns() -> None:
    matrix = np.array([[21.5, 7, 1, 3], [18.0, 8, 0, 4]], dtype=np.float32)
    frame = frame_from_tensors([tensor("x", "FP32", matrix, (2, 4))], SIGNATURE)
    assert frame["temp"].tolist() == [21.5, 18.0]
    assert frame["hour"].tolist() == [7, 8] and frame["hour"].dtype == np.int64
    assert frame["rain"].tolist() == [1.0, 0.0]
    assert frame["city"].tolist() == [3.0, 4.0]  # numbers as categories, as in training


def test_nan_is_missing_but_infinity_is_rejected_naming_input_and_row() -> None:
    inputs = columns(2)
    inputs[0] = tensor("temp", "FP64", [np.nan, 1.0])
    assert np.isnan(frame_from_tensors(inputs, SIGNATURE)["temp"][0])
    inputs[0] = tensor("temp", "FP16", np.array([1.0, np.inf], dtype=np.float16))
    with pytest.raises(InputError, match=r"input 'temp': value inf in row 1 must be finite"):
        frame_from_tensors(inputs, SIGNATURE)


@pytest.mark.parametrize(
    ("name", "replacement", "needle"),
    [("temp", tensor("temp", "BYTES", ["a", "b", "c"]), "datatype BYTES does not fit"),
     ("temp", tensor("temp", "BOOL", [True, False, True]), "send FP64"),
     ("hour", tensor("hour", "FP32", [1.0, 2.5, 3.0]), "2.5 in row 1 must be a whole number"),
     ("hour", tensor("hour", "UINT64", np.array([1, 2**63, 3], dtype=np.uint64)), "int64"),
     ("rain", tensor("rain", "INT8", [0, 2, 1]), "must be 0 or 1"),
     ("rain", tensor("rain", "BYTES", ["y", "n", "y"]), "send BOOL"),
     ("temp", tensor("temp", "FP64", [1.0, 2.0, 3.0], (3, 2)), "shape"),
     ("temp", tensor("temp", "FP64", [1.0, 2.0, 3.0], (1, 3)), "[n] or [n, 1]")],
)  # fmt: skip
def test_wrong_datatype_value_or_shape_names_the_input(
    name: str, replacement: Tensor, needle: str
) -> None:
    inputs = [replacement if t.name == name else t for t in columns()]
    with pytest.raises(InputError, match=f"input '{name}'") as err:
        frame_from_tensors(inputs, SIGNATURE)
    assert needle in str(err.value)


def test_missing_unknown_repeated_and_ragged_inputs() -> None:
    with pytest.raises(InputError, match="input 'city' is missing"):
        frame_from_tensors(columns()[:3], SIGNATURE)
    with pytest.raises(InputError, match="input 'town' is not an input"):
        frame_from_tensors([*columns(), tensor("town", "BYTES", ["a", "b", "c"])], SIGNATURE)
    with pytest.raises(InputError, match="'temp' is given more than once"):
        frame_from_tensors([*columns(), columns()[0]], SIGNATURE)
    with pytest.raises(InputError, match="different row counts"):
        frame_from_tensors([*columns()[:3], tensor("city", "BYTES", ["a"])], SIGNATURE)
    with pytest.raises(InputError, match=r"must be \[n, 4\]"):
        frame_from_tensors([tensor("x", "FP64", np.zeros(6), (2, 3))], SIGNATURE)


def test_records_with_infinity_are_rejected() -> None:
    check_finite_frame(pd.DataFrame({"temp": [1.0, np.nan]}), SIGNATURE)
    with pytest.raises(InputError, match="column 'temp': value inf in row 1"):
        check_finite_frame(pd.DataFrame({"temp": ["1.0", "inf"]}), SIGNATURE)


# --- outputs and metadata ----------------------------------------------------------------------


def test_classifier_metadata_lists_predictions_and_probabilities() -> None:
    meta = oip_metadata("m", 3, CLASSIFIER)
    assert meta["versions"] == ["3"]
    assert [(i["name"], i["datatype"]) for i in meta["inputs"]] == [
        ("temp", "FP64"), ("hour", "INT64"), ("rain", "BOOL"), ("city", "BYTES")]  # fmt: skip
    assert meta["outputs"] == [
        {"name": "busy", "datatype": "BYTES", "shape": [-1]},
        {"name": "probabilities", "datatype": "FP64", "shape": [-1, 2]},
    ]


def test_binary_response_decodes_with_tritonclient() -> None:
    labels = np.array(["yes", "no"], dtype=object)
    proba = np.array([[0.25, 0.75], [0.5, 0.5]])
    outputs = model_outputs(CLASSIFIER, labels, proba, [("probabilities", True), ("busy", None)])
    assert [o.name for o in outputs] == ["probabilities", "busy"]
    body, length = encode_infer_response({"id": "r"}, outputs, [True, False])
    assert length is not None
    result = InferResult.from_response_body(body, header_length=length)
    np.testing.assert_array_equal(result.as_numpy("probabilities"), proba)
    assert result.as_numpy("busy").tolist() == ["yes", "no"]
    body, length = encode_infer_response({}, [Output("busy", "BYTES", [2], labels)], [True])
    assert InferResult.from_response_body(body, header_length=length).as_numpy(
        "busy").tolist() == [b"yes", b"no"]  # fmt: skip
