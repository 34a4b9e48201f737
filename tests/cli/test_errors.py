"""Bad input on the command line: one line naming the culprit, exit code 2, no traceback,
and the workspace left as it was."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from mlcycle.data import BIKE_SHARING_CSV


def assert_user_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr  # progress lines may come before it
    assert result.stderr.strip().splitlines()[-1] == errors[0]
    for needle in needles:
        assert needle in errors[0]


def test_init_with_a_missing_file_names_it(tmp_path: Path, cli: Any) -> None:
    result = cli(tmp_path, "init", "--data", "nope.csv", "--target", "y")
    assert_user_error(result, "nope.csv", "does not exist")
    assert not (tmp_path / "mlcycle.yaml").exists()


def test_init_with_an_empty_file_names_it(tmp_path: Path, cli: Any) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert_user_error(cli(tmp_path, "init", "--data", str(empty), "--target", "y"), "empty")
    assert not (tmp_path / "mlcycle.yaml").exists()


def test_init_with_an_unknown_target_lists_the_columns(tmp_path: Path, cli: Any) -> None:
    result = cli(tmp_path, "init", "--data", str(BIKE_SHARING_CSV), "--target", "rentals")
    assert_user_error(result, "'rentals'", "cnt")
    assert not (tmp_path / "mlcycle.yaml").exists()


def test_init_with_a_garbage_time_column_names_the_row(tmp_path: Path, cli: Any) -> None:
    csv = tmp_path / "d.csv"
    csv.write_text("when,x,y\n2024-01-01,1,2\nyesterday,2,3\n2024-01-03,3,4\n")
    result = cli(tmp_path, "init", "--data", str(csv), "--target", "y", "--time-column", "when")
    assert_user_error(result, "'when'", "'yesterday'", "row 1")


def test_loop_with_a_garbage_numeric_column_names_column_and_row(tmp_path: Path, cli: Any) -> None:
    assert cli(tmp_path, "init", "--data", str(BIKE_SHARING_CSV), "--target", "cnt").returncode == 0
    broken = tmp_path / "hour.csv"
    text = BIKE_SHARING_CSV.read_text().splitlines()
    fields = text[4].split(",")
    fields[10] = "warm"  # temp
    text[4] = ",".join(fields)
    broken.write_text("\n".join(text) + "\n")
    config = (tmp_path / "mlcycle.yaml").read_text()
    (tmp_path / "mlcycle.yaml").write_text(config.replace(str(BIKE_SHARING_CSV), "hour.csv"))
    result = cli(tmp_path, "loop", "--replay")
    assert_user_error(result, "'temp'", "'warm'", "row 3")
    assert not (tmp_path / "reports").exists()


def test_a_config_typo_names_the_key(tmp_path: Path, cli: Any) -> None:
    (tmp_path / "mlcycle.yaml").write_text("loop:\n  margn: 0.1\n")
    assert_user_error(cli(tmp_path, "models", "list"), "loop.margn")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("models", "show", "nope"), "'nope' does not exist"),
        (("models", "promote", "nope@1"), "'nope' has no version 1"),
        (("models", "promote", "nope@latest"), "MODEL@VERSION"),
        (("runs", "show", "0123456789ab"), "'0123456789ab' does not exist"),
        (("data", "show", "hour@v9"), "'hour@v9' does not exist"),
        (("serve", "nope@production"), "'nope' does not exist"),
        (("loop",), "--replay"),
        (("loop", "--replay"), "no 'data' section"),
        (("monitor", "--reference", "a.csv", "--current", "b.csv"), "'a.csv' does not exist"),
    ],
)
def test_unknown_names_are_one_line_errors(
    tmp_path: Path, args: tuple[str, ...], needle: str, cli: Any
) -> None:
    assert_user_error(cli(tmp_path, *args), needle)


def test_debug_shows_the_traceback(tmp_path: Path, cli: Any) -> None:
    result = cli(tmp_path, "--debug", "models", "show", "nope")
    assert result.returncode != 0
    assert "Traceback" in result.stderr
