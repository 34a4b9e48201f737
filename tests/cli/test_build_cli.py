"""`mlcycle build`: the Dockerfile and Kubernetes manifests, checked against the API schema
(the `kubernetes` client's models), and the image's workspace served by the real app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient
from tests.conftest import Cli, bike_config
from tests.models.custom_models import register_lightgbm

import mlcycle
from mlcycle.data import BIKE_SHARING_CSV
from mlcycle.serving import ModelHolder, create_app
from mlcycle.store import Workspace

FEATURES = ["hr", "temp", "atemp", "hum", "windspeed", "season", "weekday", "weathersit"]
KINDS = {"deployment": "V1Deployment", "service": "V1Service", "hpa": "V2HorizontalPodAutoscaler"}


@pytest.fixture(scope="module")
def built(cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`mlcycle build` of a LightGBM model (served through ONNX) into a fresh folder."""
    root = tmp_path_factory.mktemp("build")
    ws = Workspace(root / "ws", bike_config())
    register_lightgbm(ws, "Bike_LGBM", pd.read_csv(BIKE_SHARING_CSV).head(3000), FEATURES)
    ws.close()
    args = ["--output", str(root / "out"), "--replicas", "3", "--image", "reg.example/bike:1"]
    done = cli(root / "ws", "build", "Bike_LGBM@production", *args)
    assert done.returncode == 0, done.stderr
    assert "kubectl apply -f" in done.stdout
    yield root / "out"


def manifest(built: Path, name: str) -> Any:
    """The manifest as the `kubernetes` client's model; fails on missing required fields."""
    from kubernetes.client import ApiClient

    data = yaml.safe_load((built / "k8s" / f"{name}.yaml").read_text())
    api = ApiClient()
    model = api._ApiClient__deserialize(data, KINDS[name])  # type: ignore[attr-defined]
    assert api.sanitize_for_serialization(model) == data  # no misspelt (dropped) field
    return model


def test_manifests_follow_the_kubernetes_api_schema(built: Path) -> None:
    deploy, svc, hpa = (manifest(built, n) for n in KINDS)
    assert (deploy.api_version, deploy.kind, deploy.metadata.name) == (
        "apps/v1",
        "Deployment",
        "bike-lgbm",
    )
    assert deploy.spec.replicas == 3
    pod = deploy.spec.template
    assert deploy.spec.selector.match_labels.items() <= pod.metadata.labels.items()
    assert svc.spec.selector == deploy.spec.selector.match_labels
    assert (hpa.api_version, hpa.spec.scale_target_ref.name) == ("autoscaling/v2", "bike-lgbm")
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (3, 10)
    assert hpa.spec.metrics[0].resource.target.average_utilization == 70
    (container,) = pod.spec.containers
    assert container.image == "reg.example/bike:1"
    assert container.resources.requests == {"cpu": "500m", "memory": "512Mi"}


def test_probes_and_scrape_target_are_the_servers_routes(built: Path) -> None:
    pod = manifest(built, "deployment").spec.template
    (container,) = pod.spec.containers
    (port,) = container.ports
    assert container.liveness_probe.http_get.path == "/v2/health/live"
    assert container.readiness_probe.http_get.path == "/v2/health/ready"
    assert container.liveness_probe.http_get.port == port.name == "http"
    assert manifest(built, "service").spec.ports[0].target_port == "http"
    assert pod.metadata.annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port.container_port),
        "prometheus.io/path": "/metrics",
    }
    ws = Workspace(built / "workspace")
    try:  # the image's workspace, served by the real app on those routes
        with TestClient(create_app(ModelHolder(ws, "Bike_LGBM@production"))) as client:
            assert client.get("/v2/health/live").json() == {"live": True}
            assert client.get("/v2/health/ready").json() == {"ready": True}
            rows = pd.read_csv(BIKE_SHARING_CSV).tail(5)
            body = client.post("/predict", json=json.loads(rows.to_json(orient="records"))).json()
            assert client.get("/metrics").status_code == 200
        model = mlcycle.load_model("Bike_LGBM@production", workspace=ws)
        assert (model.meta.flavor, model.meta.runtime) == ("lightgbm", "onnx")
        np.testing.assert_allclose(body["predictions"], model.predict(rows), rtol=1e-12)
    finally:
        ws.close()


def test_dockerfile_installs_the_flavor_and_serves_the_alias(built: Path) -> None:
    lines = (built / "Dockerfile").read_text().splitlines()
    assert lines[1] == "FROM python:3.11-slim"
    assert f'RUN pip install "mlcycle[lightgbm,onnx]=={mlcycle.__version__}"' in lines
    assert "USER 10001" in lines and "EXPOSE 8080" in lines
    assert (
        "/v2/health/live"
        in lines[lines.index(next(x for x in lines if x.startswith("HEALTHCHECK"))) + 1]
    )
    cmd = json.loads(lines[-1].removeprefix("CMD "))
    assert cmd == ["mlcycle", "--workspace", "/srv/mlcycle", "serve", "Bike_LGBM@production",
                   "--host", "0.0.0.0", "--port", "8080"]  # fmt: skip


def test_existing_output_is_refused(cli: Cli, built: Path) -> None:
    done = cli(built / "workspace", "build", "Bike_LGBM@production", "--output", str(built))
    assert done.returncode == 2
    assert done.stderr.strip() == f"Error: output folder {built} already exists; choose a new one"
