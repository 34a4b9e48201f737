"""The OIP over gRPC with the published proto's own stubs: typed and raw contents, status codes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pandas as pd
import pytest
from tests.serving.conftest import MODEL, Served
from tests.serving.live_server import live_server

import mlcycle
from mlcycle.serving._binary import raw_from_array
from mlcycle.serving._proto import grpc_predict_v2_pb2 as pb
from mlcycle.serving._proto import grpc_predict_v2_pb2_grpc as pb_grpc

FLOATS = ["temp", "atemp", "hum", "windspeed"]
CATEGORICAL = ["season", "yr", "mnth", "holiday", "weekday", "workingday", "weathersit"]
CONTENTS = {"INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
            "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents",
            "UINT32": "uint_contents", "UINT64": "uint64_contents", "FP32": "fp32_contents",
            "FP64": "fp64_contents"}  # fmt: skip


@pytest.fixture(scope="module")
def stub(served: Served) -> Iterator[Any]:
    with live_server(served.ws, f"{MODEL}@production") as server, \
            grpc.insecure_channel(server.grpc_target) as channel:  # fmt: skip
        yield pb_grpc.GRPCInferenceServiceStub(channel)


def expected(served: Served, rows: pd.DataFrame) -> np.ndarray:
    return mlcycle.load_model(f"{MODEL}@production", workspace=served.ws).predict(rows)


def typed_request(rows: pd.DataFrame, hr_datatype: str = "INT64") -> Any:
    request = pb.ModelInferRequest(model_name=MODEL)
    for name in ["hr", *FLOATS, *CATEGORICAL]:
        datatype = hr_datatype if name == "hr" else ("FP64" if name in FLOATS else "INT64")
        tensor = request.inputs.add(name=name, datatype=datatype, shape=[len(rows)])
        getattr(tensor.contents, CONTENTS[datatype]).extend(rows[name].tolist())
    return request


def raw_request(rows: pd.DataFrame) -> Any:
    request = pb.ModelInferRequest(model_name=MODEL, id="raw-request-1")
    for name in ["hr", *FLOATS, *CATEGORICAL]:
        datatype = "FP64" if name in FLOATS else "INT64"
        request.inputs.add(name=name, datatype=datatype, shape=[len(rows), 1])
        request.raw_input_contents.append(raw_from_array(datatype, rows[name].to_numpy()))
    return request


def predictions(response: Any) -> np.ndarray:
    [output] = response.outputs
    assert output.name == "cnt" and output.datatype == "FP64"
    assert list(output.shape) == [len(response.raw_output_contents[0]) // 8]
    return np.frombuffer(response.raw_output_contents[0], dtype="<f8")


@pytest.mark.parametrize("datatype", sorted(CONTENTS))
def test_typed_contents_of_every_numeric_datatype(stub: Any, served: Served, datatype: str) -> None:
    rows = served.rows.iloc[:6]
    response = stub.ModelInfer(typed_request(rows, datatype))
    np.testing.assert_allclose(predictions(response), expected(served, rows), rtol=1e-12)
    assert response.model_name == MODEL and response.model_version == "1"


def test_raw_input_contents_and_prediction_ids(stub: Any, served: Served) -> None:
    rows = served.rows.iloc[6:10]
    response = stub.ModelInfer(raw_request(rows))
    np.testing.assert_allclose(predictions(response), expected(served, rows), rtol=1e-12)
    assert response.id == "raw-request-1"
    ids = response.parameters["prediction_ids"].string_param.split(",")
    assert ids == [f"raw-request-1-{i}" for i in range(4)]


def test_fp16_and_bytes_as_raw_and_request_id_from_metadata(stub: Any, served: Served) -> None:
    rows = served.rows.iloc[10:12]
    request = raw_request(rows)
    request.ClearField("id")
    request.inputs[1].datatype = "FP16"  # temp
    request.raw_input_contents[1] = raw_from_array("FP16", rows["temp"].to_numpy())
    request.inputs[5].datatype = "BYTES"  # season as text: accepted (an unseen category)
    request.raw_input_contents[5] = raw_from_array("BYTES", rows["season"].astype(str).to_numpy())
    response = stub.ModelInfer(request, metadata=[("x-request-id", "grpc-meta-1")])
    assert response.id == "grpc-meta-1" and len(predictions(response)) == 2


def _bad(request: Any, kind: str) -> Any:
    if kind == "fp16_typed":
        request.inputs[1].datatype = "FP16"
    elif kind == "int8_out_of_range":
        request.inputs[0].datatype = "INT8"
        request.inputs[0].contents.ClearField("int64_contents")
        request.inputs[0].contents.int_contents.extend([300, 1])
    elif kind == "shape_mismatch":
        request.inputs[2].shape[0] = 3
    elif kind == "missing_input":
        del request.inputs[3]
    elif kind == "unknown_output":
        request.outputs.add(name="nope")
    elif kind == "bad_id":
        request.id = "has space"
    elif kind == "unknown_version":
        request.model_version = "9"
    elif kind == "unknown_model":
        request.model_name = "nope"
    return request


@pytest.mark.parametrize(
    ("kind", "code", "needle"),
    [("fp16_typed", "INVALID_ARGUMENT", "raw_input_contents"),
     ("int8_out_of_range", "INVALID_ARGUMENT", "out of range for INT8"),
     ("shape_mismatch", "INVALID_ARGUMENT", "input 'atemp': shape [3]"),
     ("missing_input", "INVALID_ARGUMENT", "input 'hum' is missing"),
     ("unknown_output", "INVALID_ARGUMENT", "output 'nope'"),
     ("bad_id", "INVALID_ARGUMENT", "field 'id'"),
     ("unknown_version", "NOT_FOUND", "version 9"),
     ("unknown_model", "NOT_FOUND", "'nope'")],
)  # fmt: skip
def test_bad_requests_map_to_status_codes(
    stub: Any, served: Served, kind: str, code: str, needle: str
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.ModelInfer(_bad(typed_request(served.rows.head(2)), kind))
    assert err.value.code() == getattr(grpc.StatusCode, code)
    assert needle in err.value.details()
    assert stub.ServerReady(pb.ServerReadyRequest()).ready  # the server lives on


def test_raw_contents_count_must_match_inputs(stub: Any, served: Served) -> None:
    request = raw_request(served.rows.head(2))
    del request.raw_input_contents[0]
    with pytest.raises(grpc.RpcError) as err:
        stub.ModelInfer(request)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "one per input" in err.value.details()


def test_metadata_and_readiness(stub: Any) -> None:
    meta = stub.ModelMetadata(pb.ModelMetadataRequest(name=MODEL))
    assert meta.name == MODEL and list(meta.versions) == ["1"]
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.inputs][:2] == [
        ("hr", "INT64", [-1]), ("temp", "FP64", [-1])]  # fmt: skip
    assert stub.ModelReady(pb.ModelReadyRequest(name=MODEL, version="1")).ready
    assert not stub.ModelReady(pb.ModelReadyRequest(name=MODEL, version="2")).ready
    with pytest.raises(grpc.RpcError) as err:
        stub.ModelMetadata(pb.ModelMetadataRequest(name="nope"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
