"""Deployments: canary share, sticky A/B arms, shadow mirroring, and bad variants."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from tests.serving.conftest import MODEL, Served
from tests.serving.test_app import oip_inputs

import mlcycle
from mlcycle.core import ConfigError, DeploymentConfig, ModelNotFound, deployment_config
from mlcycle.registry import set_alias
from mlcycle.serving import Deployment, build_deployment, create_app, read_inference_log


def _row(served: Served, i: int = 0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads(served.rows.iloc[[i]].to_json(orient="records"))
    return out


def _deploy(served: Served, prefix: str, **variants: Any) -> Deployment:
    """Alias `<prefix>-a` -> v1 (primary) and `<prefix>-b` -> v2, then a deployment of them."""
    set_alias(served.ws, MODEL, f"{prefix}-a", 1)
    set_alias(served.ws, MODEL, f"{prefix}-b", 2)
    config = DeploymentConfig(model=MODEL, alias=f"{prefix}-a", **variants)
    return build_deployment(served.ws, config)


def test_canary_takes_its_share_of_requests_and_the_wire_follows_the_route(served: Served) -> None:
    deployment = _deploy(served, "canary", canary="canary-b=10%")
    n = 20_000
    share = np.mean([deployment.route(f"r{i}", None)[0].version == 2 for i in range(n)])
    assert abs(share - 0.10) < 4 * np.sqrt(0.1 * 0.9 / n)  # 4 binomial standard deviations

    with TestClient(create_app(deployment)) as client:
        for i in range(200):
            request_id = f"canary-wire-{i}"
            want, role = deployment.route(request_id, None)
            got = client.post("/predict", json=_row(served), headers={"X-Request-ID": request_id})
            assert got.status_code == 200, got.text
            assert got.json()["model_version"] == want.version
            assert role == ("canary" if want.version == 2 else "primary")
        stats = {v: s.snapshot() for v, s in deployment.stats.items()}
    assert stats[1]["requests"] + stats[2]["requests"] == 200
    assert stats[1]["errors"] == stats[2]["errors"] == 0
    assert 3 <= stats[2]["requests"] <= 37  # binomial(200, 0.1): 20 +- 4 sd


def test_ab_is_sticky_per_key_and_split_as_configured(served: Served) -> None:
    deployment = _deploy(served, "ab", ab="ab-b=30%", sticky_header="X-User-Id")
    keys = [f"user-{i}" for i in range(10_000)]
    share = np.mean([deployment.route(f"x{i}", k)[0].version == 2 for i, k in enumerate(keys)])
    assert abs(share - 0.30) < 4 * np.sqrt(0.3 * 0.7 / len(keys))

    arms: dict[str, set[int]] = {}
    with TestClient(create_app(deployment)) as client:
        for _ in range(2):
            for user in keys[:40]:
                got = client.post("/predict", json=_row(served), headers={"X-User-Id": user})
                assert got.status_code == 200, got.text
                arms.setdefault(user, set()).add(got.json()["model_version"])
    assert all(len(versions) == 1 for versions in arms.values())  # same key, same version
    assert {v for versions in arms.values() for v in versions} == {1, 2}


def test_shadow_answers_with_the_primary_and_logs_both(served: Served) -> None:
    deployment = _deploy(served, "shadow", shadow="shadow-b")
    body = json.loads(served.rows.head(3).to_json(orient="records"))
    primary = mlcycle.load_model(f"{MODEL}@1", workspace=served.ws).predict(served.rows.head(3))
    request_ids = [f"shadow-{i}" for i in range(10)]
    with TestClient(create_app(deployment)) as client:
        for request_id in request_ids:
            got = client.post("/predict", json=body, headers={"X-Request-ID": request_id}).json()
            assert got["model_version"] == 1
            np.testing.assert_allclose(got["predictions"], primary, rtol=1e-12)
        shadow_ids = [f"{r}-shadow-{row}" for r in request_ids for row in range(3)]
        deadline = time.monotonic() + 30
        while len(read_inference_log(served.ws, shadow_ids)) < len(shadow_ids):
            assert time.monotonic() < deadline, "the shadow rows never reached the inference log"
            time.sleep(0.05)
    logged = read_inference_log(served.ws, [f"{r}-{row}" for r in request_ids for row in range(3)])
    assert logged["model_version"].tolist() == [1] * 30
    shadows = read_inference_log(served.ws, shadow_ids)
    assert shadows["model_version"].tolist() == [2] * 30
    assert deployment.stats[2].snapshot()["requests"] == 10


def test_an_unknown_canary_alias_fails_at_start(served: Served) -> None:
    set_alias(served.ws, MODEL, "start-a", 1)
    config = DeploymentConfig(model=MODEL, alias="start-a", canary="no-such-alias=10%")
    with pytest.raises(ModelNotFound, match="no-such-alias"):
        build_deployment(served.ws, config)


@pytest.mark.parametrize(
    ("values", "needle"),
    [({"canary": "challenger=10"}, "challenger=10"), ({"canary": "challenger=0%"}, "0 < PERCENT"),
     ({"ab": "a=60%,b=50%"}, "more than 100%"), ({"canary": "c=5%", "ab": "a=5%"}, "cannot be"),
     ({"sticky_header": "X User"}, "X User")],
)  # fmt: skip
def test_bad_deployment_options_name_the_culprit(values: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        deployment_config("mlcycle serve", model=MODEL, **values)


def test_cli_rejects_a_typo_in_canary_with_exit_2(served: Served, cli: Any) -> None:
    done = cli(Path(served.ws.root), "serve", f"{MODEL}@production", "--canary", "challenger10%")
    assert done.returncode == 2, done.stderr
    assert "challenger10%" in done.stderr + done.stdout
    done = cli(Path(served.ws.root), "serve", "--env", "nope")
    assert done.returncode == 2 and "'nope'" in done.stderr + done.stdout


def test_every_deployed_version_answers_when_asked_by_number(served: Served) -> None:
    """OIP's /versions/{v} routes reach a canary's version too, with no split applied."""
    deployment = _deploy(served, "pinned", canary="pinned-b=10%")
    inputs = oip_inputs(served.rows.head(1))
    with TestClient(create_app(deployment)) as client:
        assert client.get(f"/v2/models/{MODEL}/versions/2").json()["versions"] == ["2"]
        assert client.get(f"/v2/models/{MODEL}/versions/2/ready").status_code == 200
        body = {"inputs": inputs}
        for i in range(20):  # a 10% canary would answer only some of these
            got = client.post(f"/v2/models/{MODEL}/versions/2/infer", json={**body, "id": f"p{i}"})
            assert got.status_code == 200, got.text
            assert got.json()["model_version"] == "2"
        missing = client.post(f"/v2/models/{MODEL}/versions/7/infer", json={"inputs": inputs})
    assert missing.status_code == 404
    assert (
        "version 7" in missing.json()["error"] and "serves version 1, 2" in missing.json()["error"]
    )
