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


def _imports_after(ws: Path, argv: list[str]) -> list[str]:
    code = (
        f"import sys; from mlcycle.cli import main; sys.argv=['mlcycle', *{argv!r}];\n"
        "try: main()\nexcept SystemExit: pass\n"
        "print([m for m in ('typer', 'rich', 'pydantic', 'sqlalchemy', 'pandas', 'yaml') "
        "if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ws, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()


def test_add_fast_path_skips_heavy_imports(ws: Path) -> None:
    (ws / "mlcycle.yaml").write_text("cache:\n  link: [reflink, hardlink, copy]\n")
    lines = _imports_after(ws, ["data", "add", "data/imgs"])
    assert lines[0].startswith("data/imgs@v1: 3 files, 24 bytes, blake3 ") and lines[1:] == ["[]"]
    assert _imports_after(ws, ["data", "status"]) == ["1 tracked paths, all up to date.", "[]"]
    # The version is in the journal; the database sees it as soon as anything opens it.
    listed = json.loads("\n".join(_imports_after(ws, ["data", "list", "--json"])[:-1]))
    assert [v["ref"] for v in listed] == ["data/imgs@v1"]


def _twin(ws: Path, name: str) -> Path:
    import shutil

    twin = ws.parent / name
    shutil.copytree(ws, twin)
    return twin


def _same(fast: subprocess.CompletedProcess[str], full: subprocess.CompletedProcess[str],
          a: Path, b: Path) -> None:  # fmt: skip
    assert fast.returncode == full.returncode, (fast.stderr, full.stderr)
    assert fast.stdout.replace(str(a), str(b)) == full.stdout
    assert fast.stderr.replace(str(a), str(b)) == full.stderr


@pytest.mark.parametrize("config", ["", "cache:\n  link: [hardlink, copy]\n"])
def test_add_fast_path_answers_exactly_as_the_full_path(ws: Path, cli: Any, config: str) -> None:
    """`--debug` sends a command through Typer and the config model: compare the two."""
    (ws / "mlcycle.yaml").write_text(config)
    long_dir = ws / "data" / ("a-long-folder-name-" * 4)
    long_dir.mkdir()
    (long_dir / "x[1].bin").write_bytes(b"x" * 2000)
    fast_ws, full_ws = _twin(ws, "fast"), _twin(ws, "full")
    long_rel = str(long_dir.relative_to(ws))
    cases: list[tuple[str, ...]] = [
        ("data", "add", "data/hour.csv", "data/imgs"),
        ("data", "add", "data/imgs"),  # again: the same version
        ("data", "add", f"{long_rel}/x[1].bin"),  # wrapped and escaped by Rich: both paths
        ("data", "add", "data/imgs/0.txt"),  # inside a tracked folder: exit 2
        ("data", "add", "nope.csv"),
        ("data", "add", "data/hour.csv", "data/imgs", "--name", "x"),
    ]
    for args in cases:
        fast = cli(fast_ws, *args)
        full = cli(full_ws, "--debug", *args) if fast.returncode == 0 else cli(full_ws, *args)
        _same(fast, full, fast_ws, full_ws)
    (fast_ws / "data" / "imgs" / "new.txt").write_text("new\n")
    (full_ws / "data" / "imgs" / "new.txt").write_text("new\n")
    fast = cli(fast_ws, "data", "add", "data/imgs", "--name=pics", "--json")
    full = cli(full_ws, "--debug", "data", "add", "data/imgs", "--name=pics", "--json")
    [a], [b] = json.loads(fast.stdout), json.loads(full.stdout)
    assert {**a, "created_at": 0, "source": ""} == {**b, "created_at": 0, "source": ""}
    assert (a["ref"], a["id"]) == ("pics@v1", 4)
    for args in (("data", "list", "--json"), ("data", "log", "data/imgs", "--json")):
        listed, other = (
            [{**v, "created_at": 0, "source": ""} for v in json.loads(cli(w, *args).stdout)]
            for w in (fast_ws, full_ws)
        )
        assert listed == other


def test_add_fast_path_leaves_other_configs_to_the_full_path(
    ws: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlcycle.cli._main import _fast as _fast_data

    argv = ["-w", str(ws), "data", "add", "data/imgs"]
    for config in ("model_name: m\n", "cache:\n  link: [copy]\n  extra: 1\n", "cache: {}\n"):
        (ws / "mlcycle.yaml").write_text(config)
        assert _fast_data(argv) is None
    (ws / "mlcycle.yaml").write_text("cache:\n  link: [copy]\n")
    for odd in (["--help"], ["--name"], ["-x"], [], ["--name", "a", "--name", "b"]):
        assert _fast_data([*argv[:4], *odd]) is None
    monkeypatch.setenv("MLCYCLE_DB_URL", "sqlite:///elsewhere.db")
    assert _fast_data(argv) is None
    assert not (ws / "data" / "imgs.mlc").exists()
    monkeypatch.delenv("MLCYCLE_DB_URL")
    assert _fast_data(argv) == 0
    assert (ws / "data" / "imgs.mlc").exists()
    assert capsys.readouterr().out.startswith("data/imgs@v1: 3 files")
