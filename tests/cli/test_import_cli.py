"""`mlcycle import mlflow URI`: a summary table or JSON, filters, and one-line errors (exit 2)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mlcycle.cli import _context, _import, _main
from mlcycle.core import InputError

pytest.importorskip("mlflow")


@pytest.fixture(scope="module")
def mlruns(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small MLflow file store: experiments a (2 runs, one with an artifact) and b (1 run)."""
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("mlflow")
    (root / "model.txt").write_text("weights")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        client = MlflowClient((root / "mlruns").as_uri())
        for name, n in [("a", 2), ("b", 1)]:
            exp = client.create_experiment(name)
            for i in range(n):
                run = client.create_run(exp, run_name=f"{name}{i}").info.run_id
                client.log_param(run, "i", i)
                for step in range(3):
                    client.log_metric(run, "loss", 1 / (step + 1), step=step)
                if i == 0:
                    client.log_artifact(run, str(root / "model.txt"), "out")
                client.set_terminated(run)
    return str(root / "mlruns")


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    """An app with just the import commands, on a fresh workspace."""
    monkeypatch.setattr(_context, "_options", {"workspace": tmp_path / "ws", "debug": False})
    monkeypatch.setattr(_context, "log_to", lambda path: None)  # no handler left behind
    app = typer.Typer()
    app.callback()(lambda: None)
    _import.register(app)
    yield app


def test_imports_and_prints_a_summary(app: typer.Typer, mlruns: str) -> None:
    result = CliRunner().invoke(app, ["import", "mlflow", mlruns])
    assert result.exit_code == 0, result.output
    assert "Imported from MLflow" in result.output
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in _rows(result.output)}
    assert rows["runs imported"] == "3"
    assert rows["metric points"] == "9"
    assert rows["artifacts"] == "2"


def _rows(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.count("│") == 3]


def test_json_filters_and_no_artifacts(app: typer.Typer, mlruns: str) -> None:
    args = ["import", "mlflow", mlruns, "--experiment", "b", "--no-artifacts", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["experiments"], data["runs_imported"], data["artifacts"]) == (1, 1, 0)
    again = json.loads(CliRunner().invoke(app, [*args[:-1], "-e", "a", "--json"]).stdout)
    assert (again["runs_imported"], again["runs_skipped"]) == (2, 1)


def test_a_bad_uri_is_an_input_error(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["import", "mlflow", str(tmp_path / "nope")])
    assert isinstance(result.exception, InputError)
    assert result.exception.exit_code == 2


def test_the_real_entry_point_prints_one_line_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(_main._COMMAND_MODULES, "import", "_import")  # until _main lists it
    monkeypatch.setattr(_context, "_options", dict(_context._options))  # main() sets them
    monkeypatch.setattr(_context, "log_to", lambda path: None)
    argv = ["mlcycle", "-w", str(tmp_path / "ws"), "import", "mlflow", str(tmp_path / "nope")]
    monkeypatch.setattr(sys, "argv", argv)
    _main.build_app.cache_clear()
    try:
        with pytest.raises(SystemExit) as exit_:
            _main.main()
    finally:
        _main.build_app.cache_clear()
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("Error: MLflow tracking URI") and "does not exist" in err[-1]
    assert not any("Traceback" in line for line in err)
