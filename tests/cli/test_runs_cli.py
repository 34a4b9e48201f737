"""`mlcycle runs list|search|show|compare` over the workspace's database.

The same commands against a tracking server are in tests/server/test_process.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlcycle.cli._main import build_app
from mlcycle.store import Workspace
from mlcycle.tracking import start_run


@pytest.fixture
def runs_ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A workspace with 5 runs: mae 0..4, model 'hgb' for even ones, one NaN metric."""
    monkeypatch.delenv("MLCYCLE_TRACKING_URI", raising=False)
    root = tmp_path / "ws"
    with Workspace(root) as ws:
        for i in range(5):
            with start_run(ws, experiment="exp", name=f"run-{i}") as run:
                run.log_metric("mae", float(i))
                run.log_metric("val loss", float("nan") if i == 4 else i / 10)
                run.log_param("model", "hgb" if i % 2 == 0 else "rf")
    yield root


def invoke(root: Path, *args: str) -> Any:
    result = CliRunner().invoke(build_app("runs"), ["--workspace", str(root), "runs", *args])
    return result


def test_search_filters_orders_and_pages(runs_ws: Path) -> None:
    out = invoke(
        runs_ws, "search", "params.model = 'hgb'", "--order-by", "metrics.mae DESC", "--json"
    )
    assert out.exit_code == 0, out.output
    body = json.loads(out.output)
    assert [r["name"] for r in body["runs"]] == ["run-4", "run-2", "run-0"]
    assert body["next_offset"] is None
    first = json.loads(
        invoke(runs_ws, "search", "--order-by", "metrics.mae", "--limit", "2", "--json").output
    )
    assert [r["name"] for r in first["runs"]] == ["run-0", "run-1"] and first["next_offset"] == 2
    second = invoke(
        runs_ws, "search", "--order-by", "metrics.mae", "--limit", "2", "--offset", "2", "--json"
    )
    assert [r["name"] for r in json.loads(second.output)["runs"]] == ["run-2", "run-3"]
    none = json.loads(invoke(runs_ws, "search", "--experiment", "other", "--json").output)
    assert none == {"runs": [], "next_offset": None}


def test_search_table_shows_the_filtered_metrics_first(runs_ws: Path) -> None:
    out = invoke(runs_ws, "search", "metrics.`val loss` < 0.25", "--limit", "1")
    assert out.exit_code == 0, out.output
    header = next(line for line in out.output.splitlines() if "id" in line and "name" in line)
    assert header.index("val") < header.index("mae"), header
    assert "More runs: add --offset 1" in out.output


def test_search_bad_filter_raises_input_error(runs_ws: Path) -> None:
    from mlcycle.core import InputError

    out = invoke(runs_ws, "search", "metrics.mae <<< 1")
    assert isinstance(out.exception, InputError) and "position" in str(out.exception)


def test_list_show_compare_still_work(runs_ws: Path) -> None:
    listed = json.loads(invoke(runs_ws, "list", "--json").output)
    assert [r["name"] for r in listed] == [f"run-{i}" for i in range(4, -1, -1)]
    shown = invoke(runs_ws, "show", listed[0]["id"][:8])
    assert shown.exit_code == 0 and "run-4" in shown.output
    compared = json.loads(
        invoke(runs_ws, "compare", listed[0]["id"], listed[1]["id"], "--json").output
    )
    assert [r["metrics"]["mae"] for r in compared] == [4.0, 3.0]
    assert compared[0]["metrics"]["val loss"] is None  # NaN prints as null in JSON


@pytest.mark.slow
def test_bad_filter_exits_2_with_one_line(runs_ws: Path, cli: Any) -> None:
    out = cli(runs_ws, "runs", "search", "metrics.mae <<< 1", env={"MLCYCLE_TRACKING_URI": ""})
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "position" in out.stderr
    assert out.stderr.startswith("Error: ")
    ok = cli(
        runs_ws, "runs", "search", "metrics.mae >= 3", "--json", env={"MLCYCLE_TRACKING_URI": ""}
    )
    assert ok.returncode == 0, ok.stderr
    assert {r["name"] for r in json.loads(ok.stdout)["runs"]} == {"run-3", "run-4"}
