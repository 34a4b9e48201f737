"""`mlcycle data add|status|diff|checkout|log` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlcycle.data import BIKE_SHARING_CSV


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "data" / "imgs").mkdir(parents=True)
    (root / "data" / "hour.csv").write_bytes(BIKE_SHARING_CSV.read_bytes())
    for i in range(3):
        (root / "data" / "imgs" / f"{i}.txt").write_text(f"image {i}\n")
    return root


def test_add_status_log_diff_checkout(ws: Path, cli: Any) -> None:
    added = cli(ws, "data", "add", "data/hour.csv", "data/imgs", "--json")
    assert added.returncode == 0, added.stderr
    hour, imgs = json.loads(added.stdout)
    assert (hour["ref"], hour["rows"], imgs["kind"], imgs["files"]) == (
        "data/hour.csv@v1",
        17379,
        "dir",
        3,
    )
    assert (ws / "data" / "imgs.mlc").exists() and (ws / "data" / "hour.csv.mlc").exists()
    assert set((ws / "data" / ".gitignore").read_text().split()) == {"/hour.csv", "/imgs"}

    clean = cli(ws, "data", "status")
    assert clean.returncode == 0 and "2 tracked paths, all up to date." in clean.stdout

    edited = ws / "data" / "imgs" / "1.txt"
    os.chmod(edited, 0o644)
    edited.unlink()
    edited.write_text("changed\n")
    changed = json.loads(cli(ws, "data", "status", "--json").stdout)
    assert {s["path"]: (s["state"], s["modified"]) for s in changed} == {
        "data/hour.csv": ("up to date", []),
        "data/imgs": ("modified", ["1.txt"]),
    }
    assert "modified: data/imgs" in cli(ws, "data", "status", "data/imgs").stdout

    assert cli(ws, "data", "add", "data/imgs").returncode == 0
    logged = json.loads(cli(ws, "data", "log", "data/imgs", "--json").stdout)
    assert [(e["version"], e["current"]) for e in logged] == [(2, True), (1, False)]
    diffed = json.loads(cli(ws, "data", "diff", "data/imgs@v1", "data/imgs@v2", "--json").stdout)
    assert diffed["modified"] == ["1.txt"] and diffed["added"] == diffed["removed"] == []

    back = cli(ws, "data", "checkout", "data/imgs@v1")
    assert back.returncode == 0, back.stderr
    assert edited.read_text() == "image 1\n"
    assert "all up to date" in cli(ws, "data", "status").stdout


def test_bad_paths_and_pointers_exit_2(ws: Path, tmp_path: Path, cli: Any) -> None:
    outside = cli(ws, "data", "add", str(BIKE_SHARING_CSV))
    assert outside.returncode == 2 and "is outside the workspace" in outside.stderr
    assert "Traceback" not in outside.stderr
    inside = cli(ws, "data", "add", ".mlcycle")
    assert inside.returncode == 2 and "inside .mlcycle/" in inside.stderr
    assert cli(ws, "data", "add", "data/hour.csv").returncode == 0
    (ws / "data" / "hour.csv.mlc").write_text("path: hour.csv\nkind: file\nblake3: nope\n")
    for args in (("data", "status"), ("data", "checkout", "data/hour.csv")):
        out = cli(ws, *args)
        assert out.returncode == 2, out.stderr
        assert "hour.csv.mlc" in out.stderr and "'blake3'" in out.stderr


def test_status_help_still_goes_through_typer(ws: Path, cli: Any) -> None:
    out = cli(ws, "data", "status", "--help")
    assert out.returncode == 0 and "--json" in out.stdout


def test_status_fast_path_skips_heavy_imports(ws: Path, cli: Any) -> None:
    assert cli(ws, "data", "add", "data/imgs").returncode == 0
    code = (
        "import sys; from mlcycle.cli import main; sys.argv=['mlcycle','data','status'];\n"
        "try: main()\nexcept SystemExit: pass\n"
        "print([m for m in ('typer', 'rich', 'pydantic', 'sqlalchemy', 'pandas') "
        "if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ws, capture_output=True, text=True)
    assert out.stdout.strip().splitlines() == [
        "1 tracked paths, all up to date.",
        "[]",
    ], out.stdout + out.stderr
