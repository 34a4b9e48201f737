"""Running pipelines: caching, selection, params, failures, stages with steps, parallelism."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlcycle.core import StepFailed, parse_config
from mlcycle.pipeline import LocalExecutor, load_dag, run_pipeline
from mlcycle.pipeline._runner import PipelineResult
from mlcycle.store import Workspace
from mlcycle.tracking import get_run, list_runs

MODULE = """
import time
from pathlib import Path

import mlcycle


@mlcycle.step
def load(n: int = 3) -> list:
    return list(range(n))


@mlcycle.step
def double(xs: list) -> list:
    if Path("fail.flag").exists():
        raise ValueError("boom in double")
    return [2 * x for x in xs]


@mlcycle.step(outs=["out/total.txt"])
def total(xs: list) -> dict:
    Path("out").mkdir(exist_ok=True)
    Path("out/total.txt").write_text(str(sum(xs)))
    mlcycle.current_run().log_metric("total", sum(xs))
    return {"total": sum(xs)}


@mlcycle.pipeline
def flow(n: int = 3):
    total(double(load(n)))
"""

STAGES = {
    "report": {
        "cmd": "cat out/total.txt > report.txt; echo ${label} >> report.txt",
        "deps": ["out/total.txt"],
        "outs": ["report.txt"],
        "params": {"label": "hello"},
        "metrics": ["metrics.json"],
    },
}


def _ws(root: Path, module: str = MODULE, stages: dict[str, Any] | None = None) -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pipeline.py").write_text(module)
    raw: dict[str, Any] = {"experiment": "pipe", "stages": stages or {}}
    return Workspace(root, parse_config(raw))


def _run(root: Path, **kwargs: Any) -> PipelineResult:
    """Run in a fresh Workspace object, as a new `mlcycle run` would."""
    params = kwargs.pop("params", {})
    ws = Workspace(root, _ws_config(root))
    try:
        dag, name = load_dag(ws.root, ws.config, params=params)
        return run_pipeline(ws, dag, name=name, params=params, **kwargs)
    finally:
        ws.close()


def _ws_config(root: Path) -> Any:
    return parse_config(json.loads((root / "config.json").read_text()))


def _setup(root: Path, module: str = MODULE, stages: dict[str, Any] | None = None) -> Path:
    _ws(root, module, stages).close()
    (root / "config.json").write_text(json.dumps({"experiment": "pipe", "stages": stages or {}}))
    return root


def _status(result: PipelineResult) -> dict[str, str]:
    return {s.name: s.status for s in result.steps}


def test_rerun_skips_without_opening_the_database(tmp_path: Path) -> None:
    root = _setup(tmp_path / "ws")
    first = _run(root)
    assert _status(first) == {"load": "ran", "double": "ran", "total": "ran"}
    ws = Workspace(root, _ws_config(root))
    dag, name = load_dag(ws.root, ws.config)
    again = run_pipeline(ws, dag, name=name)
    assert _status(again) == {"load": "cached", "double": "cached", "total": "cached"}
    assert again.run_id is None and "db" not in ws.__dict__  # the no-op run never opened it
    assert [s.run_id for s in again.steps] == [s.run_id for s in first.steps]
    (root / "out" / "total.txt").unlink()
    assert _status(_run(root))["total"] == "cached"
    assert (root / "out" / "total.txt").read_text() == "6"  # restored from the cache


def test_force_only_and_downstream(tmp_path: Path) -> None:
    root = _setup(tmp_path / "ws")
    _run(root)
    assert set(_status(_run(root, force=True)).values()) == {"ran"}
    assert _status(_run(root, only="double", force=True)) == {"double": "ran"}
    result = _run(root, only="double", downstream=True, force=True)
    assert _status(result) == {"double": "ran", "total": "ran"}


def test_params_change_the_key(tmp_path: Path) -> None:
    root = _setup(tmp_path / "ws")
    _run(root, params={"n": 3})
    changed = _run(root, params={"n": 4})
    assert _status(changed) == {"load": "ran", "double": "ran", "total": "ran"}
    assert (root / "out" / "total.txt").read_text() == "12"
    back = _run(root, params={"n": 3})
    assert set(_status(back).values()) == {"cached"}
    assert (root / "out" / "total.txt").read_text() == "6"  # the n=3 out came back


def test_failure_names_step_and_keeps_upstream_cached(tmp_path: Path) -> None:
    root = _setup(tmp_path / "ws")
    (root / "fail.flag").write_text("")
    with pytest.raises(StepFailed, match="step 'double' failed: ValueError: boom in double"):
        _run(root)
    ws = Workspace(root, _ws_config(root))
    runs = {r.name: r for r in list_runs(ws, experiment="pipe")}
    assert runs["double"].status == "FAILED" and "total" not in runs
    assert runs["flow"].status == "FAILED" and runs["load"].status == "FINISHED"
    ws.close()
    (root / "fail.flag").unlink()
    assert _status(_run(root)) == {"load": "cached", "double": "ran", "total": "ran"}


def test_stage_and_python_step_in_one_dag(tmp_path: Path) -> None:
    stages = json.loads(json.dumps(STAGES))
    stages["report"]["cmd"] += "; echo '{\"lines\": 2}' > metrics.json"
    root = _setup(tmp_path / "ws", stages=stages)
    first = _run(root)
    assert _status(first)["report"] == "ran"
    assert (root / "report.txt").read_text() == "6hello\n"
    ws = Workspace(root, _ws_config(root))
    report = get_run(ws, first.steps[-1].run_id or "")
    assert report.metrics == {"lines": 2.0} and report.tags["mlcycle.step"] == "report"
    assert {"stdout.log", "stderr.log", "outputs/report.txt"} <= set(report.artifacts)
    total = get_run(ws, first.steps[2].run_id or "")
    assert total.metrics == {"total": 6.0} and total.parent_id == first.run_id
    ws.close()
    relabeled = _run(root, params={"label": "bye"})
    assert _status(relabeled) == {
        "load": "cached",
        "double": "cached",
        "total": "cached",
        "report": "ran",
    }
    assert (root / "report.txt").read_text() == "6bye\n"


def test_failing_command_reports_exit_code_and_stderr(tmp_path: Path) -> None:
    stages = {"bad": {"cmd": "echo 'disk on fire' >&2; exit 3"}}
    root = _setup(tmp_path / "ws", module="", stages=stages)
    with pytest.raises(
        StepFailed, match=r"step 'bad' failed: command exited with code 3: disk on fire"
    ):
        _run(root)


PARALLEL = """
import os, time
from pathlib import Path
import mlcycle


def _meet(me: str, other: str) -> dict:
    Path(f"{me}.started").write_text(str(time.time()))
    deadline = time.time() + 60
    while not Path(f"{other}.started").exists():  # only true overlap gets past this
        if time.time() > deadline:
            raise TimeoutError(f"{other} never started while {me} ran")
        time.sleep(0.01)
    return {"pid": os.getpid()}


@mlcycle.step
def left() -> dict:
    return _meet("left", "right")


@mlcycle.step
def right() -> dict:
    return _meet("right", "left")


@mlcycle.step
def join(a: dict, b: dict) -> list:
    return [a["pid"], b["pid"]]


@mlcycle.pipeline
def both():
    join(left(), right())
"""


def test_independent_steps_overlap_on_the_local_executor(tmp_path: Path) -> None:
    root = _setup(tmp_path / "ws", module=PARALLEL)
    executor = LocalExecutor(max_workers=2)
    try:
        result = _run(root, executor=executor)
    finally:
        executor.shutdown()
    assert _status(result) == {"left": "ran", "right": "ran", "join": "ran"}
    assert (root / "left.started").exists() and (root / "right.started").exists()


def test_cached_only_raises_before_running_anything(tmp_path: Path) -> None:
    from mlcycle.pipeline._runner import StepsToRun

    root = _setup(tmp_path / "ws")
    with pytest.raises(StepsToRun, match="'load' is not cached"):
        _run(root, cached_only=True)
    assert not (root / "out").exists() and list_runs(Workspace(root, _ws_config(root))) == []
    _run(root)
    assert set(_status(_run(root, cached_only=True)).values()) == {"cached"}


LIGHT = [
    "",
    "experiment: e\nmodel_name: m\n",
    "cache:\n  link: [hardlink, copy]\npipeline:\n  module: flows.py\n",
    "stages:\n  a:\n    cmd: echo ${x} > a.txt\n    deps: [in.txt]\n    outs: [a.txt]\n"
    "    params: {x: 1, y: 2.5, z: true, w: text}\n    cpus: 2\n    gpus: 0.5\n    memory: 10\n"
    "    metrics: [m.json]\n  b:\n    cmd: cat a.txt\n    after: [a]\n",
]
NOT_LIGHT = [
    "data:\n  path: x.csv\n  target: y\n",
    "stages:\n  a:\n    cmd: echo\n    deps: in.txt\n",
    "stages:\n  a:\n    cmd: echo\n    cpus: '2'\n",
    "stages:\n  a:\n    cmd: echo\n    params: {x: [1]}\n",
    "stages:\n  a:\n    cmd: echo\n    memory: -1\n",
    "stages:\n  a:\n    cmd: echo\n    typo: 1\n",
    "pipeline:\n  executor: ray\n",
    "cache:\n  link: []\n",
    "[1, 2]\n",
    "stages: {a: {cmd: 1}}\n",
]


@pytest.mark.parametrize("text", LIGHT)
def test_the_light_config_reads_what_the_model_reads(tmp_path: Path, text: str) -> None:
    from mlcycle.core import load_config
    from mlcycle.pipeline._load import light_config

    (tmp_path / "mlcycle.yaml").write_text(text)
    light, full = light_config(tmp_path), load_config(tmp_path)
    assert light is not None
    assert (light.model_name, light.experiment, light.db_url, light.objects_url) == (
        full.model_name,
        full.experiment,
        full.db_url,
        full.objects_url,
    )
    assert light.cache.link == full.cache.link
    assert (light.pipeline.module, light.pipeline.executor) == (
        full.pipeline.module,
        full.pipeline.executor,
    )
    assert (light.pipeline.address, light.pipeline.max_workers) == (None, None)
    assert list(light.stages) == list(full.stages)
    for name, stage in light.stages.items():
        model = full.stages[name]
        for key in ("cmd", "deps", "params", "outs", "metrics", "after", "cpus", "gpus", "memory"):
            mine, theirs = getattr(stage, key), getattr(model, key)
            assert (mine, type(mine)) == (theirs, type(theirs)), key
        assert [type(v) for v in stage.params.values()] == [type(v) for v in model.params.values()]


@pytest.mark.parametrize("text", NOT_LIGHT)
def test_the_light_config_leaves_the_rest_to_the_model(tmp_path: Path, text: str) -> None:
    from mlcycle.pipeline._load import light_config

    (tmp_path / "mlcycle.yaml").write_text(text)
    assert light_config(tmp_path) is None
