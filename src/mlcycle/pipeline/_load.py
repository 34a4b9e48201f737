"""Loading a workspace's pipeline: the Python module, its steps, the stages, `-P` overrides."""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.core import PipelineError
from mlcycle.pipeline._dag import Dag, DagNode, build_dag, normalize
from mlcycle.pipeline._executor import Resources
from mlcycle.pipeline._stages import stage_nodes
from mlcycle.pipeline._step import Node, Pipeline, Step

if TYPE_CHECKING:
    from mlcycle.core import Config

#: The module file used when `pipeline.module` is not set and this file exists.
DEFAULT_MODULE = "pipeline.py"


def load_module(file: Path, name: str | None = None) -> types.ModuleType:
    """Import the Python file `file` as module `name` (default: its stem).

    Imported once per process, and again when the file changes.

    The file's folder goes first on `sys.path` so it can import its sibling modules.

    Raises:
        PipelineError: if the file does not exist.
    """
    name = name or file.stem
    try:
        stamp = file.stat().st_mtime_ns
    except OSError:
        raise PipelineError(
            f"pipeline module {file} does not exist; fix 'pipeline.module'"
        ) from None
    loaded = sys.modules.get(name)
    same = getattr(loaded, "__file__", None) == str(file)
    if loaded is not None and same and getattr(loaded, "__mlcycle_mtime__", None) == stamp:
        return loaded
    if str(file.parent) not in sys.path:
        sys.path.insert(0, str(file.parent))
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise PipelineError(f"{file} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    module.__mlcycle_mtime__ = stamp  # type: ignore[attr-defined]  # reload when edited
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def find_step(file: str, module: str, qualname: str) -> Step:
    """The :class:`Step` defined as `qualname` in `module` (loaded from `file` if needed).

    Raises:
        PipelineError: if it is not there (the file changed since the run started).
    """
    # mlcycle's own steps (the built-in training pipeline) import by name; a user's by path.
    obj: Any = (
        importlib.import_module(module)
        if module.startswith("mlcycle.")
        else load_module(Path(file), module)
    )
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if not isinstance(obj, Step):
        raise PipelineError(f"{file} no longer defines step {qualname!r}")
    return obj


def module_path(root: Path, config: Config) -> Path | None:
    """The pipeline module: `pipeline.module`, else `pipeline.py` if present, else None."""
    if config.pipeline.module:
        return root / config.pipeline.module
    default = root / DEFAULT_MODULE
    return default if default.is_file() else None


def parse_value(text: str) -> Any:
    """A `-P` value: JSON (`5`, `0.1`, `true`, `[1, 2]`) when it parses, else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _python_node(node: Node) -> DagNode:
    step = node.step
    return DagNode(
        name=node.name,
        kind="python",
        deps=tuple(normalize(d) for d in step.deps),
        outs=tuple(normalize(o) for o in step.outs),
        inputs={arg: up.name for arg, up in node.inputs.items()},
        params=dict(node.params),
        resources=Resources(step.cpus, step.gpus, step.memory),
        retries=step.retries,
        step=step,
    )


def _standalone(step: Step) -> Node:
    sig = inspect.signature(step.fn)
    missing = [k for k, p in sig.parameters.items() if p.default is p.empty]
    if missing:
        raise PipelineError(
            f"step '{step.name}' declares files but argument {missing[0]!r} has no default; "
            "give it one or call the step inside a @pipeline"
        )
    return Node(step.name, step, {}, {k: p.default for k, p in sig.parameters.items()})


def _choose(module: types.ModuleType, name: str | None) -> Pipeline | None:
    found = {p.name: p for p in vars(module).values() if isinstance(p, Pipeline)}
    if name is not None:
        if name not in found:
            raise PipelineError(
                f"{module.__file__} has no pipeline {name!r}; "
                f"pipelines: {', '.join(found) or 'none'}"
            )
        return found[name]
    if len(found) > 1:
        raise PipelineError(f"{module.__file__} has pipelines {', '.join(found)}; name one to run")
    return next(iter(found.values()), None)


def python_nodes(
    module: types.ModuleType, chosen: Pipeline | None, params: Mapping[str, Any]
) -> list[Node]:
    """The nodes of the `chosen` pipeline plus the module-level steps that declare files."""
    nodes = chosen.build(params) if chosen else []
    used = {id(n.step) for n in nodes}
    for obj in vars(module).values():
        if isinstance(obj, Step) and (obj.deps or obj.outs) and id(obj) not in used:
            nodes.append(_standalone(obj))
    return nodes


def _split(params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    plain: dict[str, Any] = {}
    targeted: dict[str, dict[str, Any]] = {}
    for key, value in params.items():
        target, dot, param = key.partition(".")
        if dot:
            targeted.setdefault(target, {})[param] = value
        else:
            plain[key] = value
    return plain, targeted


def _override(node: DagNode, values: Mapping[str, Any]) -> DagNode:
    unknown = sorted(set(values) - set(node.params))
    if unknown:
        raise PipelineError(
            f"step '{node.name}' has no param {unknown[0]!r}; its params: "
            f"{', '.join(node.params) or 'none'}"
        )
    merged = {**node.params, **values}
    return DagNode(**{**node.__dict__, "params": merged})


def _apply(
    nodes: list[DagNode], plain: Mapping[str, Any], targeted: Mapping[str, dict[str, Any]]
) -> list[DagNode]:
    by_name = {n.name: n for n in nodes}
    for target in targeted:
        if target not in by_name:
            raise PipelineError(
                f"-P {target}.…: no step named {target!r}; steps are: {', '.join(by_name)}"
            )
    out = []
    for node in nodes:
        values = dict(targeted.get(node.name, {}))
        if node.kind == "stage":
            values = {**{k: v for k, v in plain.items() if k in node.params}, **values}
        out.append(_override(node, values) if values else node)
    return out


def load_dag(
    root: Path, config: Config, pipeline: str | None = None, params: Mapping[str, Any] | None = None
) -> tuple[Dag, str]:
    """Build the workspace's DAG: the Python pipeline's steps and the YAML stages.

    Args:
        root: the workspace folder.
        config: its configuration (`stages`, `pipeline.module`).
        pipeline: the `@pipeline` to run; needed only if the module has several.
        params: `-P` overrides: `name` sets a pipeline param and every stage
            param of that name; `step.name` sets one step's param.

    Returns:
        The DAG and the pipeline's name (`stages` when there is no `@pipeline`).

    Raises:
        PipelineError: for an unknown pipeline, step or param, a cycle or a missing input.
    """
    plain, targeted = _split(params or {})
    file = module_path(root, config)
    if file is None and pipeline is not None:
        raise PipelineError(f"no pipeline module to find {pipeline!r} in; set 'pipeline.module'")
    module = load_module(file) if file else None
    chosen = _choose(module, pipeline) if module else None
    known = set(chosen.params if chosen else ()) | {
        k for stage in config.stages.values() for k in stage.params
    }
    unknown = sorted(set(plain) - known)
    if unknown:
        raise PipelineError(
            f"-P {unknown[0]}: no pipeline or stage param of that name; "
            f"params are: {', '.join(sorted(known)) or 'none'}"
        )
    ours = {k: v for k, v in plain.items() if chosen and k in chosen.params}
    nodes = python_nodes(module, chosen, ours) if module else []
    dag_nodes = [*(_python_node(n) for n in nodes), *stage_nodes(config.stages)]
    dag = build_dag(_apply(dag_nodes, plain, targeted), root)
    return dag, chosen.name if chosen else "stages"


def dag_of(chosen: Pipeline, root: Path, params: Mapping[str, Any]) -> Dag:
    """The DAG of the pipeline object `chosen` alone (no module, no YAML stages),
    e.g. the built-in training pipeline.

    Raises:
        PipelineError: for an unknown param, a cycle or a missing input.
    """
    return build_dag([_python_node(n) for n in chosen.build(params)], root)


# --- a light config for the no-op run -----------------------------------------------------
# A no-op `mlcycle run` spends most of its time building the pydantic config model. For a
# `mlcycle.yaml` made only of what a pipeline reads, in the plain types the model would keep
# as they are, these frozen records stand in for it; anything else is left to the model.

_STAGE_LISTS = ("deps", "outs", "metrics", "after")
_STAGE_KEYS = frozenset(("cmd", "params", "cpus", "gpus", "memory", *_STAGE_LISTS))
_TOP_KEYS = frozenset(("model_name", "experiment", "cache", "stages", "pipeline"))
_LINK_KINDS = frozenset(("reflink", "hardlink", "symlink", "copy"))
_OVERRIDES = ("MLCYCLE_DB_URL", "MLCYCLE_OBJECTS_URL", "MLCYCLE_WEBHOOK_URL")


@dataclass(frozen=True)
class LightStage:
    """:class:`mlcycle.core.StageConfig`'s fields, from a plainly typed `stages` entry."""

    cmd: str
    deps: tuple[str, ...] = ()
    params: dict[str, str | int | float | bool] = field(default_factory=dict)
    outs: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    cpus: float = 1.0
    gpus: float = 0.0
    memory: int | None = None


@dataclass(frozen=True)
class LightPipeline:
    """:class:`mlcycle.core.PipelineConfig` with its defaults but `module`."""

    module: str | None = None
    executor: str = "local"
    address: None = None
    max_workers: None = None


@dataclass(frozen=True)
class LightCache:
    """:class:`mlcycle.core.CacheConfig`."""

    link: tuple[str, ...] = ("reflink", "copy")


@dataclass(frozen=True)
class LightConfig:
    """What a cached run reads of :class:`mlcycle.core.Config` (see :func:`light_config`)."""

    model_name: str = "model"
    experiment: str = "default"
    cache: LightCache = LightCache()
    stages: dict[str, LightStage] = field(default_factory=dict)
    pipeline: LightPipeline = LightPipeline()
    db_url: None = None
    objects_url: None = None


def _strings(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not all(type(v) is str for v in value):
        return None
    return tuple(value)


def _number(value: Any) -> float | None:
    return float(value) if type(value) in (int, float) and value >= 0 else None


def _light_stage(raw: Any) -> LightStage | None:
    if not isinstance(raw, dict) or not set(raw) <= _STAGE_KEYS or type(raw.get("cmd")) is not str:
        return None
    lists = {k: _strings(raw[k]) for k in _STAGE_LISTS if k in raw}
    params = raw.get("params", {})
    plain = (str, int, float, bool)
    if None in lists.values() or not isinstance(params, dict):
        return None
    if not all(type(k) is str and type(v) in plain for k, v in params.items()):
        return None
    cpus, gpus = _number(raw.get("cpus", 1.0)), _number(raw.get("gpus", 0.0))
    memory = raw.get("memory")
    if (
        cpus is None
        or gpus is None
        or not (memory is None or (type(memory) is int and memory >= 0))
    ):
        return None
    return LightStage(raw["cmd"], params=dict(params), cpus=cpus, gpus=gpus, memory=memory,
                      **lists)  # type: ignore[arg-type]  # fmt: skip


def _light_parts(raw: dict[str, Any]) -> dict[str, Any] | None:
    parts: dict[str, Any] = {k: raw[k] for k in ("model_name", "experiment") if k in raw}
    if not all(type(v) is str for v in parts.values()):
        return None
    if "cache" in raw:
        cache = raw["cache"]
        links = (
            _strings(cache.get("link"))
            if isinstance(cache, dict) and set(cache) == {"link"}
            else None
        )
        if not links or not set(links) <= _LINK_KINDS:
            return None
        parts["cache"] = LightCache(links)
    if "pipeline" in raw:
        pipe = raw["pipeline"]
        if not isinstance(pipe, dict) or set(pipe) != {"module"} or type(pipe["module"]) is not str:
            return None
        parts["pipeline"] = LightPipeline(pipe["module"])
    stages = raw.get("stages", {})
    if not isinstance(stages, dict) or not all(type(k) is str for k in stages):
        return None
    parts["stages"] = {k: _light_stage(v) for k, v in stages.items()}
    return None if None in parts["stages"].values() else parts


def light_config(root: Path) -> LightConfig | None:
    """The workspace's config without the pydantic model, or None if the model must read it.

    Only a `mlcycle.yaml` of `model_name`, `experiment`, `cache.link`,
    `pipeline.module` and `stages` in the exact types the model keeps (lists
    of strings, numbers, plain param values), with no `MLCYCLE_*` override,
    is read here; it means the same as :func:`mlcycle.core.load_config` makes of it.
    """
    import os

    if any(os.environ.get(var) for var in _OVERRIDES):
        return None
    try:
        text = (root / "mlcycle.yaml").read_text(encoding="utf-8")
    except FileNotFoundError:
        return LightConfig()
    except (OSError, UnicodeDecodeError):
        return None
    import yaml

    try:
        raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return None
    raw = {} if raw is None else raw
    if not isinstance(raw, dict) or not set(raw) <= _TOP_KEYS:
        return None
    parts = _light_parts(raw)
    return None if parts is None else LightConfig(**parts)
