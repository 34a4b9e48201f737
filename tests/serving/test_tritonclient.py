"""A real third-party OIP client, tritonclient (HTTP and gRPC), against mlcycle's model server."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tests.serving.conftest import MODEL, Served
from tests.serving.live_server import LiveServer, live_server
from tritonclient.utils import InferenceServerException

import mlcycle

NUMERIC = {"hr": np.int64, "temp": np.float64, "atemp": np.float64, "hum": np.float64,
           "windspeed": np.float64}  # fmt: skip
CATEGORICAL = ["season", "yr", "mnth", "holiday", "weekday", "workingday", "weathersit"]
FEATURES = ["hr", "temp", "atemp", "hum", "windspeed", *CATEGORICAL]
Client = Any  # tritonclient.http or tritonclient.grpc InferenceServerClient
Module = Any  # the tritonclient.http or tritonclient.grpc module


@pytest.fixture(scope="module")
def live(served: Served) -> Iterator[LiveServer]:
    with live_server(served.ws, f"{MODEL}@production") as server:
        yield server


@pytest.fixture(scope="module", params=["http", "grpc"])
def triton(request: pytest.FixtureRequest, live: LiveServer) -> Iterator[tuple[Module, Client]]:
    """(module, client) for each transport."""
    if request.param == "http":
        client = httpclient.InferenceServerClient(live.http_url.removeprefix("http://"))
        yield httpclient, client
    else:
        client = grpcclient.InferenceServerClient(live.grpc_target)
        yield grpcclient, client
    client.close()


def expected(served: Served, rows: pd.DataFrame) -> np.ndarray:
    return mlcycle.load_model(f"{MODEL}@production", workspace=served.ws).predict(rows)


def column_inputs(module: Module, rows: pd.DataFrame, binary: bool = True) -> list[Any]:
    """One input per column; categories as INT64 numbers, as the model was trained on."""
    inputs = []
    for name in FEATURES:
        values = rows[name].to_numpy(NUMERIC.get(name, np.int64))
        tensor = module.InferInput(
            name, [len(rows)], "FP64" if values.dtype.kind == "f" else "INT64"
        )
        if module is httpclient:
            tensor.set_data_from_numpy(values, binary_data=binary)
        else:
            tensor.set_data_from_numpy(values)
        inputs.append(tensor)
    return inputs


def metadata(module: Module, response: Any) -> dict[str, Any]:
    if module is httpclient:
        return dict(response)
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(response, preserving_proto_field_name=True)


def test_probes_answer(triton: tuple[Module, Client]) -> None:
    _, client = triton
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready(MODEL) and client.is_model_ready(MODEL, "1")
    assert not client.is_model_ready("nope")
    assert not client.is_model_ready(MODEL, "2")


def test_server_and_model_metadata(triton: tuple[Module, Client]) -> None:
    module, client = triton
    server = metadata(module, client.get_server_metadata())
    assert server["name"] == "mlcycle" and server["extensions"] == ["binary_tensor_data"]
    model = metadata(module, client.get_model_metadata(MODEL))
    assert model["versions"] == ["1"] and model["platform"] == "mlcycle-sklearn"
    datatypes = {i["name"]: i["datatype"] for i in model["inputs"]}
    assert datatypes == {c: "BYTES" if c in CATEGORICAL else
                         ("INT64" if c == "hr" else "FP64") for c in FEATURES}  # fmt: skip
    assert [(o["name"], o["datatype"]) for o in model["outputs"]] == [("cnt", "FP64")]


@pytest.mark.parametrize("binary", [True, False])
def test_infer_one_input_per_column_matches_load_model(
    triton: tuple[Module, Client], served: Served, binary: bool
) -> None:
    module, client = triton
    rows = served.rows.iloc[3:9]
    request_id = f"tc-{uuid.uuid4().hex[:12]}"
    outputs = [module.InferRequestedOutput("cnt", **({"binary_data": binary}
                                                     if module is httpclient else {}))]  # fmt: skip
    result = client.infer(MODEL, column_inputs(module, rows, binary), request_id=request_id,
                          outputs=outputs)  # fmt: skip
    np.testing.assert_allclose(result.as_numpy("cnt"), expected(served, rows), rtol=1e-12)
    response = result.get_response()
    response = response if module is httpclient else metadata(module, response)
    assert response["id"] == request_id and response["model_version"] == "1"


def test_infer_a_single_matrix_of_all_columns(
    triton: tuple[Module, Client], served: Served
) -> None:
    module, client = triton
    rows = served.rows.iloc[20:25]
    matrix = module.InferInput("features", [len(rows), len(FEATURES)], "FP32")
    matrix.set_data_from_numpy(rows[FEATURES].to_numpy(np.float32))
    result = client.infer(MODEL, [matrix])
    want = expected(served, rows[FEATURES].astype(np.float32).astype(np.float64)
                    .astype({c: np.int64 for c in CATEGORICAL}))  # fmt: skip
    np.testing.assert_allclose(result.as_numpy("cnt"), want, rtol=1e-9)


@pytest.mark.parametrize(
    ("change", "needle", "http_status", "grpc_status"),
    [("drop_hum", "'hum' is missing", "400", "INVALID_ARGUMENT"),
     ("temp_as_bytes", "'temp': datatype BYTES", "400", "INVALID_ARGUMENT"),
     ("infinite_temp", "'temp': value inf in row 0", "400", "INVALID_ARGUMENT"),
     ("unknown_model", "'nope' is not served", "404", "NOT_FOUND"),
     ("unknown_version", "version 7 is not served", "404", "NOT_FOUND")],
)  # fmt: skip
def test_bad_requests_come_back_as_client_errors_naming_the_culprit(
    triton: tuple[Module, Client], served: Served, change: str, needle: str, http_status: str,
    grpc_status: str,
) -> None:  # fmt: skip
    module, client = triton
    rows = served.rows.head(2)
    inputs = column_inputs(module, rows)
    model, version = MODEL, ""
    if change == "drop_hum":
        inputs = [t for t in inputs if t.name() != "hum"]
    elif change in ("temp_as_bytes", "infinite_temp"):
        inputs = [t for t in inputs if t.name() != "temp"]
        bad = [b"1.5", b"2"] if change == "temp_as_bytes" else [np.inf, 1.0]
        temp = module.InferInput("temp", [2], "BYTES" if change == "temp_as_bytes" else "FP64")
        temp.set_data_from_numpy(np.array(bad, dtype=object if isinstance(bad[0], bytes) else None))
        inputs.append(temp)
    elif change == "unknown_model":
        model = "nope"
    else:
        version = "7"
    with pytest.raises(InferenceServerException) as err:
        client.infer(model, inputs, model_version=version)
    assert needle in err.value.message()
    assert str(err.value.status()).endswith(http_status if module is httpclient else grpc_status)
    assert client.is_server_ready()  # the worker survived


@pytest.mark.slow
def test_mlcycle_serve_with_grpc_port_answers_both_clients(served: Served, tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    cmd = [sys.executable, "-m", "mlcycle", "--workspace", str(served.ws.root), "serve",
           f"{MODEL}@production", "--port-file", str(port_file), "--grpc-port", "0"]  # fmt: skip
    with open(tmp_path / "log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        grpc_file = Path(f"{port_file}.grpc")
        deadline = time.monotonic() + 120
        while not grpc_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert grpc_file.exists(), (tmp_path / "log").read_text()
        rows = served.rows.head(3)
        http = httpclient.InferenceServerClient(f"127.0.0.1:{port_file.read_text()}")
        grpc = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_file.read_text()}")
        for module, client in ((httpclient, http), (grpcclient, grpc)):
            result = client.infer(MODEL, column_inputs(module, rows))
            np.testing.assert_allclose(result.as_numpy("cnt"), expected(served, rows), rtol=1e-12)
            client.close()
    finally:
        proc.terminate()  # uvicorn shuts down, then re-raises SIGTERM: exit code -15
        assert proc.wait(30) in (0, -15)
    assert "Traceback" not in (tmp_path / "log").read_text()
