"""The model server app in-process: probes, metadata, /predict, OIP infer, errors, metrics."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from tests.serving.conftest import MODEL, Served

import mlcycle
from mlcycle.serving import ModelHolder, create_app, log_labels, read_inference_log

FEATURES = ["hr", "temp", "atemp", "hum", "windspeed", "season", "yr", "mnth", "holiday",
            "weekday", "workingday", "weathersit"]  # fmt: skip
OIP_TYPES = {"hr": "INT64", "temp": "FP64", "atemp": "FP64", "hum": "FP64", "windspeed": "FP64"}


@pytest.fixture(scope="module")
def client(served: Served) -> Iterator[TestClient]:
    """A client of an app serving `bike-demand@production` (version 1)."""
    with TestClient(create_app(ModelHolder(served.ws, f"{MODEL}@production"))) as c:
        yield c


def records(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as JSON records (all CSV columns, so dteday, instant, cnt ... are extra)."""
    out: list[dict[str, Any]] = json.loads(rows.to_json(orient="records", double_precision=15))
    return out


def expected(served: Served, rows: pd.DataFrame, ref: str = f"{MODEL}@production") -> np.ndarray:
    return mlcycle.load_model(ref, workspace=served.ws).predict(rows)


def oip_inputs(rows: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {"name": c, "shape": [len(rows)], "datatype": OIP_TYPES.get(c, "BYTES"),
         "data": rows[c].tolist()}
        for c in FEATURES
    ]  # fmt: skip


def rid() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def assert_error(response: Any, status: int, *needles: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    message: str = response.json()["error"]
    for needle in needles:
        assert needle in message
    return message


# --- probes and metadata -------------------------------------------------------------------


def test_health_probes_answer(client: TestClient) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get(f"/v2/models/{MODEL}/ready").json() == {"name": MODEL, "ready": True}


def test_server_metadata_names_mlcycle(client: TestClient) -> None:
    body = client.get("/v2").json()
    assert body["name"] == "mlcycle"
    assert isinstance(body["version"], str) and body["version"]
    assert body["extensions"] == ["binary_tensor_data"]


def test_model_metadata_lists_the_twelve_inputs_with_oip_datatypes(client: TestClient) -> None:
    body = client.get(f"/v2/models/{MODEL}").json()
    assert body["name"] == MODEL
    assert body["versions"] == ["1"]
    assert [i["name"] for i in body["inputs"]] == FEATURES
    assert {i["name"]: i["datatype"] for i in body["inputs"]} == {
        c: OIP_TYPES.get(c, "BYTES") for c in FEATURES
    }
    assert all(i["shape"] == [-1] for i in body["inputs"])
    assert body["outputs"] == [{"name": "cnt", "datatype": "FP64", "shape": [-1]}]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v2/models/nope"), ("GET", "/v2/models/nope/ready"),
     ("POST", "/v2/models/nope/infer")],
)  # fmt: skip
def test_unknown_model_is_404_naming_it(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, json={"inputs": []})
    assert_error(response, 404, "'nope'", MODEL)


# --- /predict --------------------------------------------------------------------------------


def test_predict_records_match_load_model_and_ignore_extra_columns(
    client: TestClient, served: Served
) -> None:
    rows = served.rows.head(7)
    assert "dteday" in rows.columns
    response = client.post("/predict", json=records(rows))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == MODEL and body["model_version"] == 1
    np.testing.assert_allclose(body["predictions"], expected(served, rows), rtol=1e-12)
    assert body["ids"] == [f"{body['request_id']}-{i}" for i in range(7)]
    assert "probabilities" not in body


def test_predict_accepts_records_and_columns_objects(client: TestClient, served: Served) -> None:
    rows = served.rows.iloc[5:9]
    want = expected(served, rows)
    as_records = client.post("/predict", json={"records": records(rows)})
    columns = {c: rows[c].tolist() for c in FEATURES}
    as_columns = client.post("/predict", json={"columns": columns})
    for response in (as_records, as_columns):
        assert response.status_code == 200, response.text
        np.testing.assert_allclose(response.json()["predictions"], want, rtol=1e-12)


def test_predictions_are_written_to_the_inference_log(client: TestClient, served: Served) -> None:
    rows = served.rows.head(3)
    request_id = rid()
    body = client.post("/predict", json=records(rows), headers={"X-Request-ID": request_id}).json()
    assert body["request_id"] == request_id
    assert body["ids"] == [f"{request_id}-0", f"{request_id}-1", f"{request_id}-2"]
    logged = read_inference_log(served.ws, body["ids"])
    assert logged["prediction_id"].tolist() == body["ids"]
    assert logged["model_version"].tolist() == [1, 1, 1]
    assert logged["prediction"].tolist() == pytest.approx(body["predictions"], rel=1e-12)
    for column in FEATURES:
        assert logged[column].tolist() == pytest.approx(rows[column].tolist()), column
    assert "dteday" not in logged.columns
    assert logged["label"].isna().all()


def test_log_labels_joins_by_id_and_ignores_unknown_ids(client: TestClient, served: Served) -> None:
    ids = client.post("/predict", json=records(served.rows.head(2))).json()["ids"]
    known = log_labels(served.ws, [*ids, "no-such-id-0"], [11, 22, 33])
    assert known == 2
    logged = read_inference_log(served.ws, [*ids, "no-such-id-0"])
    assert logged["prediction_id"].tolist() == ids
    assert logged["label"].tolist() == [11, 22]
    assert log_labels(served.ws, [ids[0]], [12]) == 1  # a label sent again replaces the old one
    assert read_inference_log(served.ws, ids)["label"].tolist() == [12, 22]


# --- OIP v2 infer ----------------------------------------------------------------------------


def test_oip_infer_with_one_input_per_column(client: TestClient, served: Served) -> None:
    rows = served.rows.iloc[10:14]
    request_id = rid()
    body = {"id": request_id, "inputs": oip_inputs(rows)}
    response = client.post(f"/v2/models/{MODEL}/infer", json=body)
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["model_name"] == MODEL and out["model_version"] == "1" and out["id"] == request_id
    [output] = out["outputs"]
    assert output["name"] == "cnt" and output["datatype"] == "FP64" and output["shape"] == [4]
    np.testing.assert_allclose(output["data"], expected(served, rows), rtol=1e-12)
    ids = out["parameters"]["prediction_ids"]
    assert ids == [f"{request_id}-{i}" for i in range(4)]
    assert read_inference_log(served.ws, ids)["prediction_id"].tolist() == ids


def test_oip_infer_accepts_nested_n_by_1_data(client: TestClient, served: Served) -> None:
    rows = served.rows.iloc[10:12]
    inputs = [{**t, "shape": [2, 1], "data": [[v] for v in t["data"]]} for t in oip_inputs(rows)]
    response = client.post(f"/v2/models/{MODEL}/infer", json={"inputs": inputs})
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["outputs"][0]["data"], expected(served, rows))


# --- bad input: always a 4xx JSON error, never a 500 ---------------------------------------


def test_missing_column_is_400_naming_it(client: TestClient, served: Served) -> None:
    body = [{k: v for k, v in r.items() if k != "temp"} for r in records(served.rows.head(2))]
    assert_error(client.post("/predict", json=body), 400, "'temp'", "missing")


def test_wrong_type_is_400_naming_column_and_row(client: TestClient, served: Served) -> None:
    body = records(served.rows.head(3))
    body[1]["temp"] = "warm"
    assert_error(client.post("/predict", json=body), 400, "'temp'", "'warm'", "row 1")


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'[{"temp": 0.5}', b"\xff\xfe", b"", b"[1, 2]", b'"text"', b"null",
     b'{"records": 5}', b'{"columns": {"temp": 1}}'],
)  # fmt: skip
def test_malformed_or_shapeless_body_is_400(client: TestClient, content: bytes) -> None:
    assert_error(client.post("/predict", content=content), 400)


@pytest.mark.parametrize("body", [[], {"records": []}, {"columns": {}}])
def test_no_rows_is_400(client: TestClient, body: Any) -> None:
    assert_error(client.post("/predict", json=body), 400, "no rows")


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2]])
def test_nested_value_is_400_naming_the_column(
    client: TestClient, served: Served, value: Any
) -> None:
    body = records(served.rows.head(2))
    body[1]["season"] = value  # a categorical column: would otherwise reach the estimator
    assert_error(client.post("/predict", json=body), 400, "'season'", "row 1")


def test_number_too_large_is_400(client: TestClient, served: Served) -> None:
    row = records(served.rows.head(1))[0]
    text = json.dumps([{**row, "temp": 0}]).replace('"temp": 0', '"temp": ' + "9" * 400)
    assert_error(client.post("/predict", content=text.encode()), 400, "too large")
    huge = json.dumps([{**row, "temp": 0}]).replace('"temp": 0', '"temp": ' + "9" * 5000)
    assert_error(client.post("/predict", content=huge.encode()), 400)


@pytest.mark.parametrize("header", ["has space", "x" * 49, "semi;colon", "ümlaut".encode()])
def test_invalid_request_id_header_is_400(
    client: TestClient, served: Served, header: str | bytes
) -> None:
    body = records(served.rows.head(1))
    assert_error(client.post("/predict", json=body, headers={"X-Request-ID": header}), 400,
                 "X-Request-ID")  # fmt: skip
    inputs = oip_inputs(served.rows.head(1))
    response = client.post(f"/v2/models/{MODEL}/infer", json={"inputs": inputs},
                           headers={"X-Request-ID": header})  # fmt: skip
    assert_error(response, 400, "X-Request-ID")


@pytest.mark.parametrize("bad_id", ["abc\n", "a b", "", [1], {"a": 1}, "y" * 49])
def test_invalid_oip_id_field_is_400(client: TestClient, served: Served, bad_id: Any) -> None:
    body = {"id": bad_id, "inputs": oip_inputs(served.rows.head(1))}
    if bad_id == "":
        response = client.post(f"/v2/models/{MODEL}/infer", json=body)
        assert response.status_code == 200  # an empty id means "none given": the server picks one
        return
    assert_error(client.post(f"/v2/models/{MODEL}/infer", json=body), 400, "'id'")


def test_reused_request_id_is_400_not_500(client: TestClient, served: Served) -> None:
    request_id = rid()
    body = records(served.rows.head(2))
    first = client.post("/predict", json=body, headers={"X-Request-ID": request_id})
    assert first.status_code == 200
    again = client.post("/predict", json=body, headers={"X-Request-ID": request_id})
    assert_error(again, 400, request_id)
    assert len(read_inference_log(served.ws, first.json()["ids"])) == 2


def _with_temp(inputs: list[dict[str, Any]], **change: Any) -> dict[str, Any]:
    return {"inputs": [{**t, **change} if t["name"] == "temp" else t for t in inputs]}


@pytest.mark.parametrize(
    ("change", "needle"),
    [({"shape": [3]}, "shape"), ({"shape": [2, 2]}, "shape"), ({"shape": [1, 2]}, "shape"),
     ({"shape": []}, "shape"), ({"shape": ["2"]}, "shape"), ({"shape": [None]}, "shape"),
     ({"shape": [2.0]}, "shape"), ({"shape": [[2]]}, "shape"), ({"shape": 2}, "shape"),
     ({"datatype": "FLOAT"}, "datatype"), ({"datatype": None}, "datatype"),
     ({"data": "0.1,0.2"}, "data"), ({"data": [0.1, "warm"]}, "warm"),
     ({"data": [{"v": 1}, 0.2]}, "row 0")],
)  # fmt: skip
def test_wrong_oip_input_is_400_naming_it(
    client: TestClient, served: Served, change: dict[str, Any], needle: str
) -> None:
    body = _with_temp(oip_inputs(served.rows.head(2)), **change)
    assert_error(client.post(f"/v2/models/{MODEL}/infer", json=body), 400, "'temp'", needle)


@pytest.mark.parametrize(
    "body",
    [[], {}, {"inputs": []}, {"inputs": "x"}, {"inputs": [5]}, {"inputs": [{"shape": [1]}]}],
)
def test_malformed_oip_request_is_400(client: TestClient, body: Any) -> None:
    assert_error(client.post(f"/v2/models/{MODEL}/infer", json=body), 400)


def test_oip_inputs_of_different_lengths_are_400(client: TestClient, served: Served) -> None:
    inputs = oip_inputs(served.rows.head(2))
    body = _with_temp(inputs, shape=[1], data=[0.5])
    assert_error(client.post(f"/v2/models/{MODEL}/infer", json=body), 400, "row counts")


def test_oip_missing_input_is_400_naming_it(client: TestClient, served: Served) -> None:
    inputs = [t for t in oip_inputs(served.rows.head(2)) if t["name"] != "hum"]
    response = client.post(f"/v2/models/{MODEL}/infer", json={"inputs": inputs})
    assert_error(response, 400, "'hum'", "missing")


# --- /metrics --------------------------------------------------------------------------------


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_requests_and_show_the_model_version(served: Served) -> None:
    with TestClient(create_app(ModelHolder(served.ws, f"{MODEL}@production"))) as fresh:
        good = records(served.rows.head(4))
        assert fresh.post("/predict", json=good).status_code == 200
        assert fresh.post("/predict", json=good[:1]).status_code == 200
        assert fresh.post("/predict", content=b"{oops").status_code == 400
        assert fresh.get("/v2/health/ready").status_code == 200
        response = fresh.get("/metrics")
    assert response.status_code == 200
    samples = _samples(response.text)
    requests = "mlcycle_requests_total"

    def labels(route: str, status: str | None = None, model: str = MODEL, version: str = "1"):
        pairs = {"model": model, "route": route, "version": version}
        return tuple(sorted({**pairs, **({"status": status} if status else {})}.items()))

    # Requests that reach no model (bad JSON, probes) carry empty model and version labels.
    assert samples[(requests, labels("/predict", "200"))] == 2
    assert samples[(requests, labels("/predict", "400", "", ""))] == 1
    assert samples[(requests, labels("/v2/health/ready", "200", "", ""))] == 1
    assert samples[("mlcycle_predictions_total", (("model", MODEL), ("version", "1")))] == 5
    assert samples[("mlcycle_model_version", (("model", MODEL),))] == 1
    duration = "mlcycle_request_duration_seconds_count"
    assert samples[(duration, labels("/predict"))] == 2
    assert samples[(duration, labels("/predict", None, "", ""))] == 1


# --- OIP v2: versions, requested outputs, infinity ---------------------------------------------


def test_versioned_routes_answer_for_the_served_version_only(
    client: TestClient, served: Served
) -> None:
    assert client.get(f"/v2/models/{MODEL}/versions/1").json()["versions"] == ["1"]
    assert client.get(f"/v2/models/{MODEL}/versions/1/ready").json()["ready"] is True
    assert_error(client.get(f"/v2/models/{MODEL}/versions/2"), 404, "version 2")
    body = {"inputs": oip_inputs(served.rows.head(2))}
    response = client.post(f"/v2/models/{MODEL}/versions/1/infer", json=body)
    assert response.status_code == 200, response.text
    assert_error(client.post(f"/v2/models/{MODEL}/versions/2/infer", json=body), 404, "version 2")


def test_unknown_requested_output_is_400_and_nothing_is_logged(
    client: TestClient, served: Served
) -> None:
    request_id = rid()
    body = {"id": request_id, "inputs": oip_inputs(served.rows.head(2)),
            "outputs": [{"name": "cnt"}, {"name": "nope"}]}  # fmt: skip
    assert_error(client.post(f"/v2/models/{MODEL}/infer", json=body), 400, "output 'nope'")
    assert read_inference_log(served.ws, [f"{request_id}-0"]).empty


def test_infinity_is_400_naming_column_and_row(client: TestClient, served: Served) -> None:
    body = records(served.rows.head(2))
    body[1]["temp"] = "Infinity"
    assert_error(client.post("/predict", json=body), 400, "'temp'", "row 1", "finite")
    inputs = _with_temp(oip_inputs(served.rows.head(1)), data=[123456.789])
    text = json.dumps(inputs).replace("123456.789", "1e999")  # JSON has no infinity literal
    assert_error(client.post(f"/v2/models/{MODEL}/infer", content=text.encode()), 400, "too large")
