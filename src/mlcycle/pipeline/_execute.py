"""Executing one step in a worker: inputs from the object store, a tracked run, outputs back.

:func:`execute_step` is a module-level function of one picklable
:class:`StepTask`, so every executor (process pool, Ray) runs it the same
way; it returns a small :class:`StepResult` (ids, not data). The cache
entry is written last, after every output object is stored, so a worker
killed midway leaves nothing a later run could mistake for a result.
"""

from __future__ import annotations

import os
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.core import MlcycleError, PipelineError, StepFailed

if TYPE_CHECKING:
    from mlcycle.core import Config
    from mlcycle.store import Workspace
    from mlcycle.tracking import Run


@dataclass(frozen=True)
class StepTask:
    """Everything a worker needs to run one step (picklable).

    `step_ref` is (file, module, qualname) of a Python step; `cmd` the
    substituted command of a stage; `inputs` maps argument name to the
    upstream output record; `dep_ids` maps dependency path to content id.
    """

    root: str
    config: Config
    name: str
    kind: str
    key: str
    parent_run: str
    params: dict[str, Any] = field(default_factory=dict)
    step_ref: tuple[str, str, str] | None = None
    cmd: str | None = None
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    dep_ids: dict[str, str] = field(default_factory=dict)
    outs: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    upstream_runs: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepResult:
    """What a worker returns: the step's cache entry and its run id; `seconds` of wall time."""

    name: str
    run_id: str
    entry: dict[str, Any]
    seconds: float


def execute_step(task: StepTask) -> StepResult:
    """Run `task` inside a tracked run and cache its outputs.

    Raises:
        StepFailed: if the function raises or the command exits non-zero.
        PipelineError: if the function returns a value of an unsupported type.
    """
    from mlcycle.store import Workspace

    start = time.perf_counter()
    ws = Workspace(Path(task.root), task.config)
    try:
        run_id, entry = _tracked(ws, task)
    finally:
        ws.close()
    return StepResult(task.name, run_id, entry, time.perf_counter() - start)


def _tracked(ws: Workspace, task: StepTask) -> tuple[str, dict[str, Any]]:
    from mlcycle.tracking import start_run

    tags = {"mlcycle.kind": "step", "mlcycle.step": task.name, "mlcycle.cache_key": task.key}
    run = start_run(
        ws, experiment=ws.config.experiment, name=task.name, parent_id=task.parent_run, tags=tags
    )
    with run:
        run.log_params(task.params)
        for upstream in task.upstream_runs:
            run.log_upstream(upstream)
        _log_datasets(ws, run, task.dep_ids)
        outputs, objects = _run_body(ws, task, run)
        for name, record in outputs.items():
            run.log_stored(f"outputs/{name}", record["oid"], record["size"])
        from mlcycle.pipeline._cache import write_entry

        return run.id, write_entry(ws.state_dir, task.name, task.key, outputs, objects, run.id)


def _run_body(
    ws: Workspace, task: StepTask, run: Run
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    from mlcycle.pipeline._values import store_value

    for out in task.outs:
        _remove(ws.root / out)  # a restored out may be a link to a read-only cached object
    outputs: dict[str, dict[str, Any]] = {}
    objects: list[str] = []
    if task.kind == "python":
        outputs["return"], objects = store_value(ws, task.name, _call(ws, task, run))
    else:
        _run_stage(ws, task, run)
    for out in task.outs:
        outputs[out], objs = _store_out(ws, task.name, out)
        objects += objs
    return outputs, objects


def _call(ws: Workspace, task: StepTask, run: Run) -> Any:
    from mlcycle.pipeline._context import running
    from mlcycle.pipeline._load import find_step
    from mlcycle.pipeline._values import load_value

    if task.step_ref is None:
        raise PipelineError(f"step '{task.name}' has no function to call")
    step = find_step(*task.step_ref)
    kwargs = {**task.params, **{k: load_value(ws, r) for k, r in task.inputs.items()}}
    os.chdir(ws.root)  # steps read and write paths relative to the workspace
    try:
        with running(run):
            return step.fn(**kwargs)
    except MlcycleError:
        raise
    except Exception as err:
        _save_traceback(ws, run)
        raise StepFailed(f"step '{task.name}' failed: {type(err).__name__}: {err}") from None


def _save_traceback(ws: Workspace, run: Run) -> None:
    path = ws.state_dir / "logs" / "steps" / run.id / "traceback.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(traceback.format_exc(), encoding="utf-8")
    run.log_artifact(path)


def _run_stage(ws: Workspace, task: StepTask, run: Run) -> None:
    from mlcycle.pipeline._stages import read_metrics, run_command

    if task.cmd is None:
        raise PipelineError(f"stage '{task.name}' has no command")
    logs = ws.state_dir / "logs" / "steps" / run.id
    try:
        run_command(task.name, task.cmd, task.params, ws.root, logs)
    finally:
        for name in ("stdout.log", "stderr.log"):
            run.log_artifact(logs / name)
    if task.metrics:
        run.log_metrics(read_metrics(task.name, ws.root, task.metrics))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _store_out(ws: Workspace, step: str, out: str) -> tuple[dict[str, Any], list[str]]:
    from mlcycle.data import store_path
    from mlcycle.pipeline._values import path_objects

    if not (ws.root / out).exists():
        raise StepFailed(f"step '{step}' did not write its out {out!r}")
    hashed = store_path(ws, ws.root / out)
    record = {"kind": hashed.kind, "oid": hashed.oid, "codec": "path", "path": out}
    return {**record, "size": hashed.size}, path_objects(hashed)


def _log_datasets(ws: Workspace, run: Run, dep_ids: dict[str, str]) -> None:
    """Log, as run inputs, the dataset versions whose content the dependencies hold."""
    if not dep_ids:
        return
    from mlcycle.data import list_dataset_versions

    for path, oid in dep_ids.items():
        match = next((v for v in list_dataset_versions(ws, path) if v.object_id == oid), None)
        if match is not None:
            run.log_input(match, role="dependency")
