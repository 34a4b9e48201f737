"""The DAG of Python steps and shell stages, joined by values and by files.

Edges: a Python step's argument that is another step's handle; a dependency
path that is another step's out, lies under an out folder or contains an
out; an explicit `after:`. Cycles, missing inputs, two steps writing one
path and unknown step names are :class:`PipelineError` naming the culprit.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlcycle.core import PipelineError
from mlcycle.pipeline._executor import Resources

if TYPE_CHECKING:
    from mlcycle.core import StageConfig
    from mlcycle.pipeline._step import Step


@dataclass(frozen=True)
class DagNode:
    """One step of the DAG, Python (`step` set) or shell stage (`stage` set).

    `inputs` maps a Python step's argument name to the upstream step name;
    `params` are its literal params; `deps`/`outs` are workspace-relative
    POSIX paths; `metrics` are files of `name: number` a stage writes.
    """

    name: str
    kind: Literal["python", "stage"]
    deps: tuple[str, ...] = ()
    outs: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    inputs: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    metrics: tuple[str, ...] = ()
    resources: Resources = field(default_factory=Resources)
    retries: int = 0
    step: Step | None = None
    stage: StageConfig | None = None


@dataclass(frozen=True)
class Dag:
    """Steps in a topological order (declaration order among independent ones).

    `upstream` maps each step to the steps it needs, in that order too.
    """

    nodes: dict[str, DagNode]
    upstream: dict[str, tuple[str, ...]]

    def downstream(self, name: str) -> set[str]:
        """Every step that (transitively) needs `name`, not counting `name`."""
        found: set[str] = set()
        for other in self.nodes:  # topological order: one pass suffices
            if any(u == name or u in found for u in self.upstream[other]):
                found.add(other)
        return found

    def ancestors(self, name: str) -> set[str]:
        """Every step `name` (transitively) needs."""
        found: set[str] = set()
        todo = list(self.upstream[name])
        while todo:
            up = todo.pop()
            if up not in found:
                found.add(up)
                todo.extend(self.upstream[up])
        return found

    def select(self, only: str | None = None, downstream: bool = False) -> list[str]:
        """The steps to run: all; or `only` (plus its downstream steps if `downstream`).

        Raises:
            PipelineError: if `only` is not a step name.
        """
        if only is None:
            return list(self.nodes)
        self.require(only)
        chosen = {only} | (self.downstream(only) if downstream else set())
        return [n for n in self.nodes if n in chosen]

    def require(self, name: str) -> DagNode:
        """The step called `name`.

        Raises:
            PipelineError: listing the step names if there is no such step.
        """
        if name not in self.nodes:
            raise PipelineError(
                f"no step named {name!r}; steps are: {', '.join(self.nodes) or 'none'}"
            )
        return self.nodes[name]


def normalize(path: str) -> str:
    """A dependency or out path as a normalized POSIX path relative to the workspace."""
    return posixpath.normpath(path.replace("\\", "/")).removeprefix("./")


def _contains(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def _producers(nodes: Iterable[DagNode]) -> dict[str, str]:
    owner: dict[str, str] = {}
    for node in nodes:
        for out in node.outs:
            clash = next((o for o in owner if _contains(o, out) or _contains(out, o)), None)
            if clash is not None:
                raise PipelineError(
                    f"steps '{owner[clash]}' and '{node.name}' both write {out!r}"
                    f"{'' if clash == out else f' (and {clash!r})'}; give each out one step"
                )
            owner[out] = node.name
    return owner


def _file_edges(node: DagNode, owner: dict[str, str], root: Path) -> list[str]:
    ups = []
    for dep in node.deps:
        found = [n for out, n in owner.items() if _contains(out, dep) or _contains(dep, out)]
        if not found and not (root / dep).exists():
            raise PipelineError(
                f"step '{node.name}' depends on {dep!r}, which does not exist and no step "
                "writes; create it or add a step with it in 'outs'"
            )
        ups.extend(found)
    return ups


def _edges(
    node: DagNode, names: Mapping[str, DagNode], owner: dict[str, str], root: Path
) -> list[str]:
    for other in (*node.after, *node.inputs.values()):
        if other not in names:
            raise PipelineError(
                f"step '{node.name}' runs after {other!r}, which is not a step; "
                f"steps are: {', '.join(names)}"
            )
    ups = [*node.inputs.values(), *_file_edges(node, owner, root), *node.after]
    if node.name in ups:
        raise PipelineError(f"step '{node.name}' depends on its own out; a step cannot need itself")
    return list(dict.fromkeys(ups))


def build_dag(nodes: Iterable[DagNode], root: Path) -> Dag:
    """Join `nodes` into a DAG and order it.

    Args:
        nodes: the Python steps and stages, in declaration order.
        root: the workspace folder (a dependency no step writes must exist under it).

    Raises:
        PipelineError: for a duplicate step name, a cycle, a missing input,
            two steps writing the same path, or an unknown `after` name.
    """
    named: dict[str, DagNode] = {}
    for node in nodes:
        if node.name in named:
            raise PipelineError(f"two steps are named {node.name!r}; rename one")
        named[node.name] = node
    owner = _producers(named.values())
    upstream = {name: _edges(node, named, owner, root) for name, node in named.items()}
    order = _topological(upstream)
    return Dag({n: named[n] for n in order}, {n: tuple(upstream[n]) for n in order})


def _topological(upstream: Mapping[str, list[str]]) -> list[str]:
    order: list[str] = []
    done: set[str] = set()
    pending = list(upstream)
    while pending:
        ready = [n for n in pending if all(u in done for u in upstream[n])]
        if not ready:
            raise PipelineError(f"the pipeline has a cycle: {_cycle(upstream, pending)}")
        order.extend(ready)
        done.update(ready)
        pending = [n for n in pending if n not in done]
    return order


def _cycle(upstream: Mapping[str, list[str]], pending: list[str]) -> str:
    # Every pending step waits on another pending one: walk back until a step repeats.
    path = [pending[0]]
    while True:
        nxt = next(u for u in upstream[path[-1]] if u in pending)
        if nxt in path:
            loop = [*path[path.index(nxt) :], nxt]
            return " -> ".join(reversed(loop))
        path.append(nxt)
