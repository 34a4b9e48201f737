"""`mlcycle data remote|push|pull|gc|validate` as a user runs them (real processes)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from mlcycle.data import BIKE_SHARING_CSV

BIKE_DATA = {"path": str(BIKE_SHARING_CSV), "target": "cnt", "numeric": ["temp", "hum"]}


def write_config(ws: Path, **raw: Any) -> Path:
    ws.mkdir(parents=True, exist_ok=True)
    path = ws / "mlcycle.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def ok(result: Any) -> Any:
    assert result.returncode == 0, result.stderr
    return result


def test_remote_add_keeps_the_other_keys(tmp_path: Path, cli: Any) -> None:
    ws = tmp_path / "ws"
    config = write_config(ws, model_name="bikes", data=BIKE_DATA, loop={"margin": 0.05})
    ok(cli(ws, "data", "remote", "add", "store", str(tmp_path / "remote"), "--default"))
    ok(cli(ws, "data", "remote", "add", "backup", "s3://bucket/backup"))
    raw = yaml.safe_load(config.read_text())
    assert raw["model_name"] == "bikes"
    assert raw["data"] == BIKE_DATA
    assert raw["loop"] == {"margin": 0.05}
    assert raw["remotes"] == {"store": str(tmp_path / "remote"), "backup": "s3://bucket/backup"}
    assert raw["default_remote"] == "store"
    listed = json.loads(ok(cli(ws, "data", "remote", "list", "--json")).stdout)
    assert listed == [
        {"name": "backup", "url": "s3://bucket/backup", "default": False},
        {"name": "store", "url": str(tmp_path / "remote"), "default": True},
    ]
    bad = cli(ws, "data", "remote", "add", "no good", "/x")
    assert bad.returncode == 2
    assert bad.stderr.startswith("Error: Remote name 'no good'")
    assert yaml.safe_load(config.read_text()) == raw  # a refused change writes nothing


def test_push_then_pull_restores_the_data(tmp_path: Path, cli: Any) -> None:
    ws = tmp_path / "ws"
    write_config(ws, remotes={"store": str(tmp_path / "remote")})
    shutil.copyfile(BIKE_SHARING_CSV, ws / "hour.csv")
    ok(cli(ws, "data", "add", "hour.csv"))
    first = json.loads(ok(cli(ws, "data", "push", "--json")).stdout)
    assert (first["sent"], first["bytes"]) == (1, BIKE_SHARING_CSV.stat().st_size)
    assert json.loads(ok(cli(ws, "data", "push", "-r", "store", "--json")).stdout)["sent"] == 0

    shutil.rmtree(ws / ".mlcycle" / "objects")
    (ws / "hour.csv").unlink()
    pulled = ok(cli(ws, "data", "pull", "hour.csv"))
    assert "Fetched 1 objects" in pulled.stdout
    assert (ws / "hour.csv").read_bytes() == BIKE_SHARING_CSV.read_bytes()


def test_an_unreachable_remote_is_one_error_line(tmp_path: Path, cli: Any) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    ws = tmp_path / "ws"
    write_config(ws, remotes={"broken": str(blocker / "remote")})
    (ws / "x.txt").write_text("x")
    ok(cli(ws, "data", "add", "x.txt"))
    result = cli(ws, "data", "push")
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: Remote {blocker / 'remote'}: opening the remote")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_gc_removes_the_replaced_version(tmp_path: Path, cli: Any) -> None:
    ws = tmp_path / "ws"
    write_config(ws)
    (ws / "x.txt").write_text("first\n")
    ok(cli(ws, "data", "add", "x.txt"))
    (ws / "x.txt").unlink()  # a new file: the old one may be a hard link into the cache
    (ws / "x.txt").write_text("second, longer\n")
    ok(cli(ws, "data", "add", "x.txt"))
    dry = json.loads(ok(cli(ws, "data", "gc", "--dry-run", "--keep-recent", "0", "--json")).stdout)
    assert (dry["removed"], dry["freed"], dry["kept"]) == (1, len("first\n"), 1)
    table = ok(cli(ws, "data", "gc", "--keep-recent", "0")).stdout
    assert "objects removed" in table and "│ 1 " in table.split("objects removed")[1][:20]
    again = json.loads(ok(cli(ws, "data", "gc", "--keep-recent", "0", "--json")).stdout)
    assert (again["removed"], again["kept"]) == (0, 1)
    (ws / "x.txt").unlink()
    ok(cli(ws, "data", "checkout", "x.txt"))
    assert (ws / "x.txt").read_text() == "second, longer\n"


def test_validate_passes_and_fails_on_the_bike_data(tmp_path: Path, cli: Any) -> None:
    ws = tmp_path / "ws"
    good = {"temp": {"dtype": "float", "minimum": 0, "maximum": 1}, "hr": {"dtype": "int"}}
    write_config(ws, data={**BIKE_DATA, "expectations": good})
    passed = ok(cli(ws, "data", "validate"))
    assert "all 2 column expectations hold" in passed.stdout

    wrong = {**good, "temp": {"dtype": "float", "minimum": 0, "maximum": 0.9}}
    write_config(ws, data={**BIKE_DATA, "expectations": wrong})
    failed = cli(ws, "data", "validate")
    assert failed.returncode == 2
    assert failed.stderr.startswith("Error: hour.csv: column 'temp' fails in_range(0.0, 0.9)")
    assert "in row 3712" in failed.stderr
    assert "temp" in failed.stdout and "3712" in failed.stdout  # the table of failures
    as_json = cli(ws, "data", "validate", str(BIKE_SHARING_CSV), "--json")
    assert as_json.returncode == 2
    report = json.loads(as_json.stdout)
    assert report["ok"] is False
    assert report["failures"][0] == {
        "column": "temp",
        "check": "in_range(0.0, 0.9)",
        "failure_case": 0.92,
        "index": 3712,
    }
