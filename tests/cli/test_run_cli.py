"""`mlcycle run`, `dag` and `lineage` as real processes, including a kill -9 mid-step."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mlcycle.core import hash_file

PIPELINE = """
import os
import time
from pathlib import Path

import mlcycle


@mlcycle.step(deps=["data.txt"])
def read(limit: int = 10) -> list:
    return Path("data.txt").read_text().split()[:limit]


@mlcycle.step(outs=["out/big.bin"])
def big(words: list) -> int:
    Path("out").mkdir(exist_ok=True)
    Path("out/big.bin").write_bytes(os.urandom(8 << 20))
    Path("big.started").write_text("")
    while Path("hold.flag").exists():  # the kill test holds the step here
        time.sleep(0.05)
    return len(words)


@mlcycle.step
def count(words: list, extra: int = 0) -> dict:
    if Path("fail.flag").exists():
        raise RuntimeError("count exploded")
    return {"n": len(words) + extra}


@mlcycle.pipeline
def train(limit: int = 10):
    words = read(limit)
    big(words)
    count(words)
"""

CONFIG = {
    "experiment": "cli-pipe",
    "stages": {
        "summary": {
            "cmd": "wc -c < out/big.bin > summary.txt",
            "deps": ["out/big.bin"],
            "outs": ["summary.txt"],
        }
    },
}


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "pipeline.py").write_text(PIPELINE)
    (root / "mlcycle.yaml").write_text(yaml.safe_dump(CONFIG))
    (root / "data.txt").write_text("a b c d e")
    return root


def _statuses(out: str) -> dict[str, str]:
    return {s["name"]: s["status"] for s in json.loads(out)["steps"]}


def test_run_then_cached_then_dag_and_lineage(cli, ws: Path) -> None:  # type: ignore[no-untyped-def]
    first = cli(ws, "run", "--json")
    assert first.returncode == 0, first.stderr
    assert set(_statuses(first.stdout).values()) == {"ran"}
    again = cli(ws, "run", "--json")
    assert _statuses(again.stdout) == dict.fromkeys(["read", "big", "count", "summary"], "cached")
    assert json.loads(again.stdout)["run_id"] is None
    table = cli(ws, "run")
    assert table.returncode == 0 and "cached" in table.stdout and "summary" in table.stdout

    dag = json.loads(cli(ws, "dag", "--json").stdout)
    layers = {s["name"]: (s["layer"], s["upstream"]) for s in dag["steps"]}
    assert layers["summary"] == (2, ["big"]) and layers["read"] == (0, [])
    drawing = cli(ws, "dag").stdout
    assert "4 steps in 3 layers" in drawing and "summary  [stage]  ◀── big" in drawing

    added = cli(ws, "data", "add", "data.txt", "--json")
    assert added.returncode == 0, added.stderr
    changed = cli(ws, "run", "-P", "limit=3", "--json")  # new key: the dataset gets logged
    assert _statuses(changed.stdout)["read"] == "ran"
    tree = cli(ws, "lineage", "data.txt@v1", "--json")
    assert tree.returncode == 0, tree.stderr
    labels = [c["label"].split(" (")[0] for c in json.loads(tree.stdout)["children"]]
    assert labels == ["step read"]
    text = cli(ws, "lineage", "data.txt@v1")
    assert "step read" in text.stdout and "step count" in text.stdout


def test_sweep_runs_each_combination(cli, ws: Path) -> None:  # type: ignore[no-untyped-def]
    out = cli(ws, "run", "--sweep", "limit=1,2", "--sweep", "count.extra=0,5", "--json")
    assert out.returncode == 0, out.stderr
    runs = json.loads(out.stdout)
    assert [r["params"] for r in runs] == [
        {"limit": 1, "count.extra": 0},
        {"limit": 1, "count.extra": 5},
        {"limit": 2, "count.extra": 0},
        {"limit": 2, "count.extra": 5},
    ]
    assert len({r["run_id"] for r in runs}) == 4  # each combination is its own tracked run


def test_failures_and_bad_options(cli, ws: Path) -> None:  # type: ignore[no-untyped-def]
    (ws / "fail.flag").write_text("")
    failed = cli(ws, "run")
    assert failed.returncode == 1
    assert "Error: step 'count' failed: RuntimeError: count exploded" in failed.stderr
    assert "Traceback" not in failed.stderr
    (ws / "fail.flag").unlink()
    rerun = cli(ws, "run", "--json")
    assert _statuses(rerun.stdout) == {
        "read": "cached",
        "big": "cached",
        "summary": "cached",
        "count": "ran",
    }
    unknown = cli(ws, "run", "--only", "nope")
    assert unknown.returncode == 2 and "no step named 'nope'" in unknown.stderr
    bad = cli(ws, "run", "-P", "limit")
    assert bad.returncode == 2 and "KEY=VALUE" in bad.stderr


def _objects_are_whole(ws: Path) -> int:
    objects = ws / ".mlcycle" / "objects"
    count = 0
    for path in objects.glob("??/*"):
        assert hash_file(path) == path.parent.name + path.name, f"partial object {path}"
        count += 1
    for entry in (ws / ".mlcycle" / "cache" / "steps").glob("*.json"):
        for oid in json.loads(entry.read_text())["objects"]:
            assert (objects / oid[:2] / oid[2:]).exists(), f"{entry.name} lacks {oid}"
    return count


@pytest.mark.slow
def test_kill_9_mid_step_leaves_a_usable_cache(ws: Path) -> None:
    (ws / "hold.flag").write_text("")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlcycle", "--workspace", str(ws), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the step's worker goes down with it
    )
    try:
        deadline = time.monotonic() + 120
        while not (ws / "big.started").exists():
            assert proc.poll() is None, "mlcycle run ended before the step started"
            assert time.monotonic() < deadline, "the step never started"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    _objects_are_whole(ws)
    (ws / "hold.flag").unlink()
    rerun = subprocess.run(
        [sys.executable, "-m", "mlcycle", "--workspace", str(ws), "run", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr
    statuses = _statuses(rerun.stdout)
    assert statuses["big"] == "ran" and statuses["summary"] == "ran"
    assert _objects_are_whole(ws) >= 3
    assert (ws / "summary.txt").read_text().strip() == str(8 << 20)


def test_a_plain_run_skips_typer_and_answers_as_typer_does(cli, ws: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli(ws, "run").returncode == 0
    for args in (("run",), ("run", "--json")):
        fast, full = cli(ws, *args), cli(ws, "--debug", *args)
        assert (fast.returncode, fast.stdout, fast.stderr) == (
            full.returncode,
            full.stdout,
            full.stderr,
        )
    code = (
        "import sys; from mlcycle.cli import main; sys.argv=['mlcycle', 'run'];\n"
        "try: main()\nexcept SystemExit: pass\n"
        "print('typer' in sys.modules, file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ws, capture_output=True, text=True)
    assert out.stderr.strip().splitlines()[-1] == "False", out.stderr
    assert "cached" in out.stdout
