"""The CLI as a new user meets it: init, data, monitor, runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from mlcycle.data import BIKE_SHARING_CSV


def test_help_lists_the_commands(tmp_path: Path, cli: Any) -> None:
    out = cli(tmp_path, "--help")
    assert out.returncode == 0
    for command in (
        "quickstart",
        "init",
        "loop",
        "serve",
        "monitor",
        "runs",
        "models",
        "data",
        "server",
        "import",
    ):
        assert command in out.stdout


def test_init_without_options_makes_an_empty_workspace(tmp_path: Path, cli: Any) -> None:
    out = cli(tmp_path / "ws", "init")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "ws" / "mlcycle.yaml").exists()
    assert (tmp_path / "ws" / ".mlcycle" / "mlcycle.db").exists()
    listed = cli(tmp_path / "ws", "models", "list", "--json")
    assert json.loads(listed.stdout) == []


def test_init_proposes_features_and_warns_about_leaks(tmp_path: Path, cli: Any) -> None:
    out = cli(tmp_path, "init", "--data", str(BIKE_SHARING_CSV), "--target", "cnt")
    assert out.returncode == 0, out.stderr
    assert "casual" in out.stderr and "registered" in out.stderr and "leakage" in out.stderr
    assert "instant" in out.stderr and "identifier" in out.stderr
    config = (tmp_path / "mlcycle.yaml").read_text()
    assert "target: cnt" in config and "task: regression" in config
    assert "casual" not in config.split("numeric")[1]


def test_data_add_list_show(tmp_path: Path, cli: Any) -> None:
    shutil.copyfile(BIKE_SHARING_CSV, tmp_path / "hour.csv")
    [added] = json.loads(cli(tmp_path, "data", "add", "hour.csv", "--json").stdout)
    assert added["ref"] == "hour.csv@v1" and added["rows"] == 17379
    [again] = json.loads(cli(tmp_path, "data", "add", "hour.csv", "--json").stdout)
    assert again["id"] == added["id"], "same bytes, same version"
    listed = json.loads(cli(tmp_path, "data", "list", "--json").stdout)
    assert [v["ref"] for v in listed] == ["hour.csv@v1"]
    shown = cli(tmp_path, "data", "show", "hour.csv@v1")
    assert shown.returncode == 0 and "windspeed" in shown.stdout


def test_data_add_outside_the_workspace_is_refused(tmp_path: Path, cli: Any) -> None:
    out = cli(tmp_path, "data", "add", str(BIKE_SHARING_CSV))
    assert out.returncode == 2 and "outside the workspace" in out.stderr
    assert "Traceback" not in out.stderr


def test_monitor_two_files_writes_json_and_report(tmp_path: Path, cli: Any) -> None:
    frame = pd.read_csv(BIKE_SHARING_CSV)
    frame[frame.yr == 0].to_csv(tmp_path / "ref.csv", index=False)
    frame[(frame.yr == 1) & (frame.mnth == 7)].to_csv(tmp_path / "cur.csv", index=False)
    out = cli(
        tmp_path,
        "monitor",
        "--reference",
        str(tmp_path / "ref.csv"),
        "--current",
        str(tmp_path / "cur.csv"),
        "--json",
        str(tmp_path / "drift.json"),
        "--report",
        str(tmp_path / "drift.html"),
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "drift.json").read_text())
    by_name = {f["feature"]: f for f in summary["features"]}
    # 8,645 reference rows: Evidently's defaults for large samples
    assert by_name["cnt"]["drifted"] and by_name["cnt"]["test"] == "wasserstein"
    assert by_name["weathersit"]["test"] == "jensenshannon"
    assert 0.0 < summary["share"] <= 1.0
    html = (tmp_path / "drift.html").read_text()
    assert "<svg" in html and "cnt" in html


def test_monitor_accepts_dataset_versions(tmp_path: Path, cli: Any) -> None:
    shutil.copyfile(BIKE_SHARING_CSV, tmp_path / "hour.csv")
    assert cli(tmp_path, "data", "add", "hour.csv").returncode == 0
    out = cli(tmp_path, "monitor", "--reference", "hour.csv@v1", "--current", "hour.csv@v1")
    assert out.returncode == 0, out.stderr
    assert "no drift" in out.stdout


def test_runs_list_show_compare(tmp_path: Path, cli: Any) -> None:
    import mlcycle as ml

    ws = ml.open_workspace(tmp_path)
    ids = []
    for alpha in (0.1, 1.0):
        with ml.start_run(experiment="demo", workspace=ws) as run:
            run.log_params({"alpha": alpha})
            run.log_metric("mae", 10 * alpha)
        ids.append(run.id)
    ws.close()
    listed = json.loads(cli(tmp_path, "runs", "list", "--json").stdout)
    assert {r["id"] for r in listed} == set(ids)
    shown = cli(tmp_path, "runs", "show", ids[0][:8])
    assert shown.returncode == 0 and "alpha" in shown.stdout and "FINISHED" in shown.stdout
    compared = cli(tmp_path, "runs", "compare", *ids)
    assert "param alpha" in compared.stdout and "0.1" in compared.stdout
