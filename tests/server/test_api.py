"""The REST API and the HTTP tracking store against a real server (SQLite and PostgreSQL)."""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest

import mlcycle
from mlcycle import _facade
from mlcycle.core import InputError, RunNotFound, hash_bytes, new_id, now
from mlcycle.store import Workspace
from mlcycle.tracking import MetricColumns, NewRun, RunBatch, attach_run, start_run
from mlcycle.tracking._http import HttpTrackingStore

StoreMaker = Callable[..., HttpTrackingStore]


def _new_run(url: str, experiment: str = "api") -> str:
    run = NewRun(id=new_id(), experiment=experiment, name="r", start_time=now())
    answer = httpx.post(f"{url}/api/runs", json=run.to_json())
    assert answer.status_code == 201, answer.text
    return run.id


def _points(url: str, run_id: str, key: str) -> list[float]:
    body = httpx.get(f"{url}/api/runs/{run_id}/metrics/{key}").json()
    return [float(v) for v in body["values"]]


def test_python_api_logs_to_the_server(
    server: str, server_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLCYCLE_TRACKING_URI", server)
    monkeypatch.setenv("MLCYCLE_WORKSPACE", str(tmp_path / "not-used"))
    artifact = tmp_path / "notes.txt"
    artifact.write_text("hello from the client")
    with mlcycle.start_run(experiment="remote", name="first", tags={"team": "a"}) as run:
        run.log_params({"alpha": 0.5, "model": "hgb"})
        run.log_metric("mae", 3.0, step=0)
        run.log_metric("mae", 2.0, step=1)
        run.log_series("train/loss", np.linspace(1, 0, 500))
        run.set_tag("team", "b")
        run.log_artifact(artifact)
    assert not (tmp_path / "not-used").exists(), "no local workspace is touched"
    record = _facade.get_run(run.id)
    assert (record.status, record.experiment, record.name) == ("FINISHED", "remote", "first")
    assert record.params == {"alpha": "0.5", "model": "hgb"}
    assert record.metrics == {"mae": 2.0, "train/loss": 0.0}
    assert record.tags == {"team": "b"}
    assert record.artifacts == {"notes.txt": hash_bytes(b"hello from the client")}
    # the server wrote into its own workspace's database and object store
    from mlcycle.tracking import get_run

    assert get_run(server_ws, run.id).params == record.params
    assert server_ws.objects.get_bytes(record.artifacts["notes.txt"]) == b"hello from the client"
    download = httpx.get(f"{server}/api/runs/{run.id[:8]}/artifacts/notes.txt")
    assert download.status_code == 200 and download.content == b"hello from the client"
    [found] = _facade.search_runs("metrics.mae < 2.5 and params.model = 'hgb'")
    assert found.id == run.id
    series = run.store.metric_series(run.id, "train/loss")
    assert len(series) == 500 and series.values[0] == 1.0
    assert len(_facade.get_run(run.id).artifacts) == 1
    with pytest.raises(mlcycle.ConfigError, match="tracking server"):
        _ = run.ws


def test_explicit_workspace_wins_over_the_environment(
    server: str, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLCYCLE_TRACKING_URI", server)
    with mlcycle.start_run(workspace=workspace, experiment="local") as run:
        run.log_metric("m", 1.0)
    assert _facade.get_run(run.id, workspace=workspace).metrics == {"m": 1.0}
    with pytest.raises(RunNotFound):
        _facade.get_run(run.id)  # not on the server


def test_bad_tracking_uri_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCYCLE_TRACKING_URI", "postgresql://somewhere/db")
    with pytest.raises(mlcycle.ConfigError, match="MLCYCLE_TRACKING_URI"):
        _facade.search_runs()


def test_openapi_documents_every_endpoint(server: str) -> None:
    doc = httpx.get(f"{server}/openapi.json").json()
    paths = doc["paths"]
    expected = {
        "/api/health": {"get"},
        "/api/experiments": {"get"},
        "/api/runs": {"get", "post"},
        "/api/runs/{run_id}": {"get"},
        "/api/runs/{run_id}/metrics/{key}": {"get"},
        "/api/runs/{run_id}/artifacts/{path}": {"get"},
        "/api/batches": {"post"},
        "/api/objects/{oid}": {"get", "put", "head"},
        "/api/models": {"get"},
        "/api/models/{name}/versions": {"get"},
        "/api/models/{name}/versions/{version}": {"get"},
        "/api/models/{name}/aliases/{alias}": {"get", "put"},
        "/api/audit": {"get"},
        "/api/datasets": {"get"},
        "/api/datasets/{name}/versions": {"get"},
        "/api/datasets/{name}/versions/{version}": {"get"},
        "/api/alerts": {"get"},
        "/api/models/{name}/monitoring": {"get"},
        "/api/loop/report": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
        for op in paths[path].values():
            assert op.get("summary"), f"{path} has no summary"
    assert "RunOut" in doc["components"]["schemas"]
    assert "requestBody" in paths["/api/batches"]["post"]
    assert httpx.get(f"{server}/docs").status_code == 200


def test_gzip_and_plain_batches_and_retries_apply_once(server: str) -> None:
    run_id = _new_run(server)
    batch = RunBatch(run_id, metrics={"m": MetricColumns([0, 1], [1.0, 2.0], [now(), now()])})
    batch.id = new_id()
    body = json.dumps([batch.to_json()]).encode()
    zipped = gzip.compress(body)
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    for _ in range(2):  # the same batch id twice: applied once
        answer = httpx.post(f"{server}/api/batches", content=zipped, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"received": 1, "refused": []}
    assert _points(server, run_id, "m") == [1.0, 2.0]
    plain = RunBatch(run_id, metrics={"m": MetricColumns([2], [3.0], [now()])}, id=new_id())
    answer = httpx.post(f"{server}/api/batches", json=[plain.to_json()])
    assert answer.status_code == 200
    httpx.post(f"{server}/api/batches", json=[plain.to_json()])
    assert _points(server, run_id, "m") == [1.0, 2.0, 3.0]


def test_create_run_is_idempotent(server: str) -> None:
    run = NewRun(id=new_id(), experiment="api", name="twice", start_time=now())
    for _ in range(2):
        answer = httpx.post(f"{server}/api/runs", json=run.to_json())
        assert answer.status_code == 201 and answer.json() == {"id": run.id}


_MALFORMED = [
    (b"not json", {}, "not valid JSON"),
    (b"\x1f\x8bnot gzip", {"Content-Encoding": "gzip"}, "gzip"),
    (gzip.compress(b"[1]"), {"Content-Encoding": "gzip"}, "list of batch objects"),
    (b"[]", {"Content-Encoding": "br"}, "not supported"),
    (json.dumps([{"run_id": "x", "id": "short"}]).encode(), {}, "32 lowercase hex"),
    (json.dumps([{"run_id": "x", "metrics": {"m": {}}}]).encode(), {}, "bad batch"),
]


def test_malformed_batches_are_400(server: str) -> None:
    for content, headers, message in _MALFORMED:
        answer = httpx.post(f"{server}/api/batches", content=content, headers=headers)
        assert answer.status_code == 400, (content, answer.text)
        assert message in answer.json()["error"]


def test_batch_for_unknown_run_is_404_and_unstored_artifact_400(server: str) -> None:
    ghost = RunBatch(new_id(), params={"a": "1"}, id=new_id())
    answer = httpx.post(f"{server}/api/batches", json=[ghost.to_json()])
    assert answer.status_code == 404 and "does not exist" in answer.json()["error"]
    run_id = _new_run(server)
    missing = RunBatch(run_id, artifacts={"x": (hash_bytes(b"never uploaded"), 14)})
    answer = httpx.post(f"{server}/api/batches", json=[missing.to_json()])
    assert answer.status_code == 400 and "upload it first" in answer.json()["error"]


def test_errors_map_to_statuses_with_one_line(server: str, http_store: StoreMaker) -> None:
    bad = httpx.get(f"{server}/api/runs", params={"filter": "metrics.mae <<< 3"})
    assert bad.status_code == 400
    assert "position" in bad.json()["error"] and "\n" not in bad.json()["error"]
    order = httpx.get(f"{server}/api/runs", params={"order_by": "metrics.mae sideways"})
    assert order.status_code == 400 and "position" in order.json()["error"]
    unknown = httpx.get(f"{server}/api/runs/{new_id()}")
    assert unknown.status_code == 404 and "does not exist" in unknown.json()["error"]
    invalid = httpx.get(f"{server}/api/runs", params={"limit": 0})
    assert invalid.status_code == 422 and "limit" in invalid.json()["error"]
    assert httpx.get(f"{server}/api/no/such/route").json() == {"error": "Not Found"}
    store = http_store(server)
    with pytest.raises(InputError, match="position"):
        store.search_runs("metrics.mae <<< 3")
    with pytest.raises(RunNotFound):
        store.get_run(new_id())
    assert store.run_exists(new_id()) is False


def test_unexpected_errors_are_500_without_traceback(server_ws: Workspace) -> None:
    from fastapi.testclient import TestClient

    from mlcycle.server import create_app

    app = create_app(server_ws)

    @app.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("secret internals\nTraceback (most recent call last)")

    client = TestClient(app, raise_server_exceptions=False)
    answer = client.get("/api/boom")
    assert answer.status_code == 500
    assert answer.json() == {"error": "internal server error (RuntimeError); see the server log"}


def test_non_finite_metrics_survive_the_round_trip(server: str, http_store: StoreMaker) -> None:
    store = http_store(server)
    with start_run(store, experiment="nan") as run:
        run.log_metric("nan", float("nan"), step=0)
        run.log_metric("inf", float("inf"), step=0)
        run.log_series("mixed", [1.0, float("nan"), float("-inf"), 2.0])
    record = store.get_run(run.id)
    assert math.isnan(record.metrics["nan"]) and record.metrics["inf"] == math.inf
    raw = httpx.get(f"{server}/api/runs/{run.id}").json()["metrics"]
    assert raw == {"nan": "NaN", "inf": "Infinity", "mixed": 2.0}
    series = store.metric_series(run.id, "mixed")
    assert series.values[0] == 1.0 and math.isnan(series.values[1])
    assert series.values[2] == -math.inf and series.values[3] == 2.0
    [found] = store.search_runs("metrics.nan = nan")
    assert found.id == run.id


def test_downsampled_series(server: str, http_store: StoreMaker) -> None:
    store = http_store(server)
    with start_run(store) as run:
        run.log_series("wave", np.sin(np.linspace(0, 20, 10_000)))
    short = store.metric_series(run.id, "wave", max_points=200)
    assert len(short) == 200 and short.steps[0] == 0 and short.steps[-1] == 9999
    assert len(store.metric_series(run.id, "wave")) == 10_000
    assert len(store.metric_series(new_id(), "wave")) == 0  # unknown run: empty, as locally
    too_few = httpx.get(f"{server}/api/runs/{run.id}/metrics/wave", params={"max_points": 1})
    assert too_few.status_code == 422


def test_search_pages_and_orders(server: str, http_store: StoreMaker) -> None:
    store = http_store(server)
    for i in range(7):
        with start_run(store, experiment="paging" if i < 6 else "other") as run:
            run.log_metric("mae", float(i))
            run.log_param("even", str(i % 2 == 0))
    page = httpx.get(
        f"{server}/api/runs",
        params=[
            ("experiment", "paging"),
            ("order_by", "params.even DESC"),
            ("order_by", "metrics.mae"),
            ("limit", "4"),
        ],
    ).json()
    assert [r["metrics"]["mae"] for r in page["runs"]] == [0.0, 2.0, 4.0, 1.0]
    assert page["next_offset"] == 4
    rest = httpx.get(
        f"{server}/api/runs", params={"experiment": "paging", "limit": 4, "offset": 4}
    ).json()
    assert len(rest["runs"]) == 2 and rest["next_offset"] is None
    both = store.search_runs(experiment=["paging", "other"], order_by=["metrics.mae"], limit=3)
    assert [r.metrics["mae"] for r in both] == [0.0, 1.0, 2.0]
    assert len(store.search_runs(limit=1000)) == 7
    assert httpx.get(f"{server}/api/experiments").json() == {"experiments": ["other", "paging"]}


def test_param_change_from_another_process_is_an_input_error(
    server: str, http_store: StoreMaker
) -> None:
    store = http_store(server)
    run = start_run(store)
    run.log_param("lr", 0.1)
    run.flush()
    other = attach_run(http_store(server), run.id)
    other.log_param("lr", 0.2)
    with pytest.raises(InputError, match="immutable"):
        other.flush()
    run.end()
    assert store.get_run(run.id).params == {"lr": "0.1"}


def test_object_upload_checks_the_hash(server: str, server_ws: Workspace) -> None:
    data = b"some bytes" * 1000
    oid = hash_bytes(data)
    wrong = httpx.put(f"{server}/api/objects/{oid}", content=data + b"!")
    assert wrong.status_code == 400 and "nothing stored" in wrong.json()["error"]
    assert not server_ws.objects.exists(oid)
    assert httpx.head(f"{server}/api/objects/{oid}").status_code == 404
    assert list((server_ws.state_dir / "uploads").iterdir()) == []
    right = httpx.put(f"{server}/api/objects/{oid}", content=data)
    assert right.status_code == 201 and right.json() == {"object_id": oid, "size": len(data)}
    assert server_ws.objects.get_bytes(oid) == data
    assert httpx.head(f"{server}/api/objects/{oid}").status_code == 200
    assert httpx.get(f"{server}/api/objects/{oid}").content == data
    assert httpx.put(f"{server}/api/objects/not-a-hash", content=b"x").status_code == 400
    assert httpx.get(f"{server}/api/objects/{hash_bytes(b'none')}").status_code == 404


def test_client_skips_uploading_objects_the_server_has(
    server: str, tmp_path: Path, http_store: StoreMaker
) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 10)
    requests: list[str] = []
    store = http_store(server)
    store._client.event_hooks["request"] = [lambda r: requests.append(r.method)]
    assert store.put_artifact(path) == (hash_bytes(b"x" * 10), 10)
    assert store.put_artifact(path) == (hash_bytes(b"x" * 10), 10)
    assert requests == ["HEAD", "PUT", "HEAD"]
    target = store.download(hash_bytes(b"x" * 10), tmp_path / "out" / "a.bin")
    assert target.read_bytes() == b"x" * 10


def test_registry_datasets_and_monitoring(server: str, server_ws: Workspace) -> None:
    from mlcycle.data import snapshot
    from mlcycle.monitoring import Alert, raise_alert
    from mlcycle.registry import register_model_version

    oid = server_ws.objects.put_bytes(b"a package")
    register_model_version(server_ws, "demand", oid, metrics={"mae": 3.0, "r2": 0.5})
    register_model_version(server_ws, "demand", oid, metrics={"mae": 2.0})
    with httpx.Client(base_url=f"{server}/api") as api:
        assert api.get("/models").json() == [{"name": "demand", "latest_version": 2, "aliases": {}}]
        moved = api.put(
            "/models/demand/aliases/production", json={"version": 2, "reason": "better"}
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["actor"] == "api" and moved.json()["to_version"] == 2
        assert api.get("/models/demand/aliases/production").json()["version"] == 2
        versions = api.get("/models/demand/versions").json()
        assert [v["version"] for v in versions] == [2, 1]
        assert versions[0]["aliases"] == ["production"] and versions[1]["metrics"]["r2"] == 0.5
        assert api.get("/models/demand/versions/1").json()["package_id"] == oid
        audit = api.get("/audit", params={"model": "demand"}).json()
        assert [e["action"] for e in audit] == ["set_alias", "register", "register"]
        assert api.get("/models/nope/versions").status_code == 404
        assert api.get("/models/demand/versions/9").status_code == 404
        assert api.get("/models/demand/aliases/nope").status_code == 404
        assert api.put("/models/demand/aliases/bad%20name", json={"version": 1}).status_code == 400
        assert api.put("/models/demand/aliases/x", json={"version": 0}).status_code == 422

        csv = server_ws.root / "hour.csv"
        csv.write_text("a,b\n1,2\n3,4\n")
        snapshot(server_ws, csv)
        [dataset] = api.get("/datasets").json()
        assert dataset["name"] == "hour" and dataset["versions"] == 1
        assert dataset["latest"]["rows"] == 2 and "a" in dataset["latest"]["schema"]
        assert api.get("/datasets/hour/versions/1").json()["ref"] == "hour@v1"
        assert api.get("/datasets/hour/versions/2").status_code == 404
        assert api.get("/datasets/nope/versions").status_code == 404

        raise_alert(server_ws, Alert("demand", "drift", "3 of 8 features drifted", {"share": 0.4}))
        [alert] = api.get("/alerts").json()
        assert alert["kind"] == "drift" and alert["details"] == {"share": 0.4}
        history = api.get("/models/demand/monitoring").json()
        assert history["alerts"][0]["message"] == "3 of 8 features drifted"
        assert history["traffic"] == []
        assert api.get("/loop/report").status_code == 404


def test_ui_router_is_mounted_when_present(
    server_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.machinery
    import importlib.util
    import sys
    import types

    from fastapi import APIRouter
    from fastapi.responses import HTMLResponse
    from fastapi.testclient import TestClient

    from mlcycle.server import create_app

    if importlib.util.find_spec("mlcycle.ui") is None:  # no UI yet: `/` shows the API docs
        home = TestClient(create_app(server_ws)).get("/", follow_redirects=False)
        assert home.status_code == 307 and home.headers["location"] == "/docs"
    ui = types.ModuleType("mlcycle.ui")
    ui.__spec__ = importlib.machinery.ModuleSpec("mlcycle.ui", None)

    def make_router(ws: Workspace) -> APIRouter:
        router = APIRouter()
        router.add_api_route("/", lambda: HTMLResponse(f"<h1>{ws.root.name}</h1>"))
        return router

    ui.make_router = make_router  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mlcycle.ui", ui)
    page = TestClient(create_app(server_ws)).get("/")
    assert page.status_code == 200 and page.text == f"<h1>{server_ws.root.name}</h1>"


def test_labels_join_the_log_and_the_loop_history_is_served(
    server: str, server_ws: Workspace
) -> None:
    import pandas as pd

    from mlcycle.loop._durable import Decision, LoopState, commit
    from mlcycle.serving import log_predictions

    inputs = pd.DataFrame({"temp": [0.2, 0.4, 0.6]})
    ids = log_predictions(server_ws, "req-labels", "labelled", 1, inputs, [10.0, 20.0, 30.0])
    with httpx.Client(base_url=f"{server}/api") as api:
        added = api.post("/labels", json={"ids": [*ids[:2], "nope-0"], "values": [11, 19, 5]})
        assert added.status_code == 200, added.text
        assert added.json()["matched"] == 2 and added.json()["unknown"] == 1
        unknown = api.post("/labels", json={"ids": ["nope-1"], "values": [1]})
        assert unknown.status_code == 400 and "none of the 1 ids" in unknown.json()["error"]
        [traffic] = api.get("/models/labelled/monitoring").json()["traffic"]
        assert (traffic["version"], traffic["predictions"], traffic["labeled"]) == (1, 3, 2)

        assert api.get("/loop/history").json() == []
        commit(server_ws, "labelled", LoopState(), Decision("keep", "v1 holds", {"mae": 1.5}))
        [decision] = api.get("/loop/history", params={"model": "labelled"}).json()
        assert decision["action"] == "keep" and decision["evidence"] == {"mae": 1.5}
