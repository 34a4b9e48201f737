"""The README's main job, shortened: `mlcycle quickstart` with a real server process and HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


WEBHOOK_BODIES: list[dict[str, object]] = []


class _Webhook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        WEBHOOK_BODIES.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def webhook() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def quickstart(
    tmp_path_factory: pytest.TempPathFactory, webhook: str, cli: Any
) -> tuple[Path, str]:
    ws = tmp_path_factory.mktemp("quickstart")
    env = {"MLCYCLE_WEBHOOK_URL": webhook}
    result = cli(ws, "quickstart", "--months", "3", "--trials", "2", env=env)
    assert result.returncode == 0, result.stderr
    return ws, result.stdout


def test_alerts_reach_the_webhook(quickstart: tuple[Path, str]) -> None:
    texts = [str(body["text"]) for body in WEBHOOK_BODIES]
    assert texts, "the loop retrains, so it must alert"
    assert any("2012-01" in text and "bike-demand" in text for text in texts)


def test_prints_the_table_and_report_paths(quickstart: tuple[Path, str]) -> None:
    ws, out = quickstart
    for month in ("2012-01", "2012-02", "2012-03"):
        assert month in out
    assert "live mae" in out
    assert str(ws / "reports" / "loop-report.html") in out.replace("\n", "")


def test_the_loop_retrains_and_helps(quickstart: tuple[Path, str]) -> None:
    ws, _ = quickstart
    report = json.loads((ws / "reports" / "loop-report.json").read_text())
    windows = report["windows"]
    assert [w["window"] for w in windows] == ["2012-01", "2012-02", "2012-03"]
    assert report["failed_requests"] == 0
    assert report["requests"] == sum(-(-w["rows"] // 24) for w in windows)
    assert report["retrains"] >= 1 and report["promotions"] >= 1
    served_by_newer = [w for w in windows if w["version"] > 1]
    assert served_by_newer, "a promoted version must serve a later month"
    assert sum(w["live_metric"] for w in served_by_newer) < sum(
        w["baseline_metric"] for w in served_by_newer
    )


def test_the_html_report_is_self_contained(quickstart: tuple[Path, str]) -> None:
    ws, _ = quickstart
    html = (ws / "reports" / "loop-report.html").read_text()
    assert html.count("<svg") >= 3  # inline charts
    assert 'src="http' not in html and 'href="http' not in html
    assert "2012-03" in html


def test_registry_runs_and_data_are_queryable(quickstart: tuple[Path, str], cli: Any) -> None:
    ws, _ = quickstart
    models = json.loads(cli(ws, "models", "show", "bike-demand", "--json").stdout)
    assert models["versions"][-1]["version"] == 1
    moves = [e for e in models["audit"] if e["action"] == "set_alias"]
    assert moves[-1]["to_version"] == 1 and moves[-1]["alias"] == "production"
    assert any(e["actor"] == "mlcycle-loop" and "gate" in e["evidence"] for e in moves)
    runs = json.loads(cli(ws, "runs", "list", "--json", "--limit", "200").stdout)
    trials = [r for r in runs if r["tags"].get("mlcycle.kind") == "trial"]
    assert len(trials) == 2
    assert all("family" in r["params"] and "val_mae" in r["metrics"] for r in trials)
    steps = {r["tags"]["mlcycle.step"]: r for r in runs if r["tags"].get("mlcycle.kind") == "step"}
    assert set(steps) == {"ingest", "validate", "features", "train", "evaluate", "register"}
    assert steps["ingest"]["datasets"] == ["data/hour.csv@v1"]
    assert all(r["parent_id"] == steps["train"]["id"] for r in trials)
    data = json.loads(cli(ws, "data", "list", "--json").stdout)
    assert data[0]["rows"] == 17379


def test_lineage_walks_from_the_model_to_the_data_and_back(
    quickstart: tuple[Path, str], cli: Any
) -> None:
    ws, _ = quickstart
    back = cli(ws, "lineage", "bike-demand@v1")
    assert back.returncode == 0, back.stderr
    for name in ("register", "train", "features", "validate", "ingest", "data/hour.csv@v1"):
        assert name in back.stdout
    forward = json.loads(cli(ws, "lineage", "data/hour.csv@v1", "--json").stdout)
    assert '"ref": "bike-demand@v1"' in json.dumps(forward)


def test_the_production_model_loads_and_predicts(quickstart: tuple[Path, str]) -> None:
    import pandas as pd

    import mlcycle
    from mlcycle.data import BIKE_SHARING_CSV

    ws, _ = quickstart
    workspace = mlcycle.open_workspace(ws)
    model = mlcycle.load_model("bike-demand@production", workspace=workspace)
    rows = pd.read_csv(BIKE_SHARING_CSV).tail(24)
    predictions = model.predict(rows)
    assert predictions.shape == (24,)
    assert model.meta.lineage["datasets"] == ["data/hour.csv@v1"]
    assert model.meta.lineage["run_id"]
    workspace.close()


# Last: it runs the loop again in the shared workspace.
def test_a_second_loop_reuses_the_cached_training_pipeline(
    quickstart: tuple[Path, str], cli: Any
) -> None:
    ws, _ = quickstart
    again = cli(ws, "quickstart", "--months", "1", "--trials", "2")
    assert again.returncode == 0, again.stderr
    for step in ("ingest", "validate", "features", "train", "evaluate", "register"):
        assert f"{step}: cached" in again.stderr
