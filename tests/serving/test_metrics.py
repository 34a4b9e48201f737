"""`/metrics`: parsed with prometheus_client's own text parser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from tests.serving._models import MODEL, toy_frame, toy_workspace

from mlcycle.core import ServingConfig
from mlcycle.serving import ModelHolder, create_app
from mlcycle.store import Workspace

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    workspace = toy_workspace(Path(tmp_path_factory.mktemp("metrics")))
    yield workspace
    workspace.close()


def _samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture(scope="module")
def samples(ws: Workspace) -> Samples:
    app = create_app(ModelHolder(ws, f"{MODEL}@production"), config=ServingConfig(max_queue=4))
    with TestClient(app) as client:
        for rows in (1, 3):
            body = toy_frame(rows).to_dict(orient="records")
            assert client.post("/predict", json=body).status_code == 200
        assert client.post("/predict", json=[{"f0": 1.0}]).status_code == 400
        assert client.get("/v2/health/ready").status_code == 200
        return _samples(client.get("/metrics").text)


def _model(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"model": MODEL, "version": "1", **labels}.items()))


def test_requests_are_counted_per_model_version_route_and_status(samples: Samples) -> None:
    requests = "mlcycle_requests_total"
    assert samples[(requests, _model(route="/predict", status="200"))] == 2
    assert samples[(requests, _model(route="/predict", status="400"))] == 1
    no_model = (("model", ""), ("route", "/v2/health/ready"), ("status", "200"), ("version", ""))
    assert samples[(requests, no_model)] == 1


def test_latency_histogram_per_model_version_and_route(samples: Samples) -> None:
    count = samples[("mlcycle_request_duration_seconds_count", _model(route="/predict"))]
    inf = samples[("mlcycle_request_duration_seconds_bucket", _model(route="/predict", le="+Inf"))]
    assert count == inf == 3
    assert samples[("mlcycle_request_duration_seconds_sum", _model(route="/predict"))] > 0


def test_batches_rows_queue_and_errors(samples: Samples) -> None:
    assert samples[("mlcycle_batch_size_count", _model())] == 2  # two model calls
    assert samples[("mlcycle_batch_size_sum", _model())] == 4  # of 1 and 3 rows
    assert samples[("mlcycle_batch_requests_sum", _model())] == 2
    assert samples[("mlcycle_queue_depth", _model())] == 0
    assert samples[("mlcycle_predictions_total", _model())] == 4
    errors = ("mlcycle_errors_total", (("error", "SignatureError"), ("route", "/predict")))
    assert samples[errors] == 1
    assert samples[("mlcycle_model_version", (("model", MODEL),))] == 1
