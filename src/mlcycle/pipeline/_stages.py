"""Shell stages from the `stages` section of `mlcycle.yaml`.

`${name}` in `cmd` is replaced by param `name` (shell-quoted); params are
also exported as `MLCYCLE_PARAM_<NAME>`. The command runs with `sh -c` in
the workspace folder; its stdout and stderr go to log files that become
artifacts of the step's run, and the last lines of stderr are in the
error when it exits non-zero.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.core import PipelineError, StepFailed
from mlcycle.pipeline._dag import DagNode, normalize
from mlcycle.pipeline._executor import Resources

if TYPE_CHECKING:
    from mlcycle.core import StageConfig

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.]*)\}")
STDERR_LINES = 10


def stage_nodes(stages: Mapping[str, StageConfig]) -> list[DagNode]:
    """The DAG nodes of the configured stages, in file order."""
    return [stage_node(name, stage) for name, stage in stages.items()]


def stage_node(name: str, stage: StageConfig) -> DagNode:
    """The DAG node of one stage."""
    return DagNode(
        name=name,
        kind="stage",
        deps=tuple(normalize(d) for d in stage.deps),
        outs=tuple(normalize(o) for o in stage.outs),
        after=stage.after,
        params=dict(stage.params),
        metrics=tuple(normalize(m) for m in stage.metrics),
        resources=Resources(stage.cpus, stage.gpus, stage.memory),
        stage=stage,
    )


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def substitute(name: str, cmd: str, params: Mapping[str, Any]) -> str:
    """`cmd` with each `${param}` replaced by the shell-quoted value.

    Raises:
        PipelineError: if `cmd` names a param the stage does not have.
    """

    def repl(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in params:
            raise PipelineError(
                f"stage '{name}': cmd uses ${{{key}}} but the stage has no param {key!r}; "
                "add it under 'params'"
            )
        return shlex.quote(_text(params[key]))

    return _PLACEHOLDER.sub(repl, cmd)


def param_env(params: Mapping[str, Any]) -> dict[str, str]:
    """`MLCYCLE_PARAM_<NAME>` variables for the params (name upper-cased, `.` as `_`)."""
    return {f"MLCYCLE_PARAM_{k.upper().replace('.', '_')}": _text(v) for k, v in params.items()}


def run_command(name: str, cmd: str, params: Mapping[str, Any], root: Path, logs: Path) -> None:
    """Run `cmd` with `sh -c` in `root`; stdout and stderr go to `logs/stdout.log`, `stderr.log`.

    Raises:
        StepFailed: if the command exits non-zero (with its exit code and
            the last lines of its stderr).
    """
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **param_env(params)}
    with open(logs / "stdout.log", "wb") as out, open(logs / "stderr.log", "wb") as err:
        code = subprocess.call(["sh", "-c", cmd], cwd=root, env=env, stdout=out, stderr=err)
    if code != 0:
        tail = (logs / "stderr.log").read_text(errors="replace").splitlines()[-STDERR_LINES:]
        detail = " | ".join(line.strip() for line in tail if line.strip()) or "(no stderr)"
        raise StepFailed(f"step '{name}' failed: command exited with code {code}: {detail}")


def read_metrics(name: str, root: Path, files: tuple[str, ...]) -> dict[str, float]:
    """Read the stage's metrics files (JSON or YAML mappings of name to number).

    Raises:
        StepFailed: if a file is missing, not a mapping, or holds a non-number.
    """
    import yaml

    metrics: dict[str, float] = {}
    for rel in files:
        try:
            text = (root / rel).read_text(encoding="utf-8")
            data = json.loads(text) if rel.endswith(".json") else yaml.safe_load(text)
        except (OSError, ValueError, yaml.YAMLError) as err:
            raise StepFailed(f"step '{name}': cannot read metrics file {rel!r}: {err}") from None
        if not isinstance(data, dict):
            raise StepFailed(f"step '{name}': metrics file {rel!r} must map names to numbers")
        for key, value in data.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise StepFailed(
                    f"step '{name}': metric {key!r} in {rel!r} must be a number; got {value!r}"
                )
            metrics[str(key)] = float(value)
    return metrics
