"""`@step` and `@pipeline`: Python functions as pipeline steps.

Inside a `@pipeline` function, calling a step does not run it: it records a
:class:`Node` and returns it as a lazy handle; passing a handle to another
step makes an edge. Outside a pipeline a step is a plain function call, so
steps stay easy to test. A step's unbound parameters with defaults are its
params (`-P step.param=value`); the pipeline function's own parameters are
pipeline params (`-P name=value`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, overload

from mlcycle.core import PipelineError

_building: list[list[Node]] = []


@dataclass(frozen=True)
class Step:
    """A function declared with :func:`step`, plus what it needs to run.

    `deps`/`outs` are paths (relative to the workspace) the function reads
    and writes; they join it to the YAML stages by file. `memory` is in bytes.
    """

    fn: Callable[..., Any]
    name: str
    cpus: float = 1.0
    gpus: float = 0.0
    memory: int | None = None
    deps: tuple[str, ...] = ()
    outs: tuple[str, ...] = ()
    retries: int = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Record a node inside a pipeline; call the function anywhere else."""
        if not _building:
            return self.fn(*args, **kwargs)
        return _record(self, args, kwargs)

    @property
    def ref(self) -> tuple[str, str, str]:
        """(source file, module name, qualified name): how a worker finds this step again."""
        return inspect.getfile(self.fn), self.fn.__module__, self.fn.__qualname__


@dataclass(frozen=True, eq=False)
class Node:
    """One call of a step inside a pipeline: a lazy handle to its return value.

    `inputs` maps argument name to the upstream node; `params` maps argument
    name to a literal value (JSON-able).
    """

    name: str
    step: Step
    inputs: Mapping[str, Node] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)


def _record(step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Node:
    nodes = _building[-1]
    try:
        bound = inspect.signature(step.fn).bind(*args, **kwargs)
    except TypeError as err:
        raise PipelineError(f"step '{step.name}': {err}; pass every argument") from None
    bound.apply_defaults()
    inputs = {k: v for k, v in bound.arguments.items() if isinstance(v, Node)}
    params = {k: v for k, v in bound.arguments.items() if not isinstance(v, Node)}
    taken = {n.name for n in nodes}
    name, i = step.name, 2
    while name in taken:
        name, i = f"{step.name}-{i}", i + 1
    node = Node(name, step, inputs, params)
    nodes.append(node)
    return node


@contextmanager
def building() -> Iterator[list[Node]]:
    """Collect the nodes recorded by step calls in this block (for :meth:`Pipeline.build`)."""
    _building.append([])
    try:
        yield _building[-1]
    finally:
        _building.pop()


@dataclass(frozen=True)
class Pipeline:
    """A function declared with :func:`pipeline`; its parameters are pipeline params."""

    fn: Callable[..., Any]
    name: str

    @property
    def params(self) -> dict[str, Any]:
        """The pipeline params and their defaults."""
        sig = inspect.signature(self.fn)
        return {k: p.default for k, p in sig.parameters.items() if p.default is not p.empty}

    def build(self, params: Mapping[str, Any] | None = None) -> list[Node]:
        """Call the pipeline function with `params` and return its nodes in call order.

        Raises:
            PipelineError: for an unknown param or one without a value.
        """
        values = {**self.params, **(params or {})}
        sig = inspect.signature(self.fn)
        unknown = sorted(set(values) - set(sig.parameters))
        if unknown:
            raise PipelineError(
                f"pipeline '{self.name}' has no param {unknown[0]!r}; "
                f"its params are: {', '.join(sig.parameters) or 'none'}"
            )
        missing = [k for k in sig.parameters if k not in values]
        if missing:
            raise PipelineError(f"pipeline '{self.name}': param {missing[0]!r} needs a value (-P)")
        with building() as nodes:
            self.fn(**values)
        return list(nodes)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the pipeline function directly (runs steps eagerly outside a build)."""
        return self.fn(*args, **kwargs)


@overload
def step(fn: Callable[..., Any], /) -> Step: ...
@overload
def step(
    *,
    name: str | None = None,
    cpus: float = 1.0,
    gpus: float = 0.0,
    memory: int | None = None,
    deps: tuple[str, ...] | list[str] = (),
    outs: tuple[str, ...] | list[str] = (),
    retries: int = 0,
) -> Callable[[Callable[..., Any]], Step]: ...
def step(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    cpus: float = 1.0,
    gpus: float = 0.0,
    memory: int | None = None,
    deps: tuple[str, ...] | list[str] = (),
    outs: tuple[str, ...] | list[str] = (),
    retries: int = 0,
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Declare a pipeline step: `@step` or `@step(cpus=2, deps=[...], outs=[...])`.

    The function's return value is its output; it must be a pandas
    DataFrame, a NumPy array, a JSON-able value, a scikit-learn estimator or
    a `pathlib.Path` (see :mod:`mlcycle.pipeline._values`).

    Args:
        fn: the function (bare decorator use).
        name: the step name (default: the function name).
        cpus: CPUs it needs (fractions allowed).
        gpus: GPUs it needs.
        memory: bytes of memory it needs.
        deps: files or folders (relative to the workspace) it reads.
        outs: files or folders it writes; they are cached and restored.
        retries: reruns when its worker dies (Ray executor).
    """

    def wrap(f: Callable[..., Any]) -> Step:
        return Step(f, name or f.__name__, cpus, gpus, memory, tuple(deps), tuple(outs), retries)

    return wrap(fn) if fn is not None else wrap


@overload
def pipeline(fn: Callable[..., Any], /) -> Pipeline: ...
@overload
def pipeline(*, name: str | None = None) -> Callable[[Callable[..., Any]], Pipeline]: ...
def pipeline(
    fn: Callable[..., Any] | None = None, /, *, name: str | None = None
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """Declare a pipeline: `@pipeline` or `@pipeline(name="train")`.

    Args:
        fn: the function that calls steps (bare decorator use).
        name: the pipeline name for `mlcycle run NAME` (default: the function name).
    """

    def wrap(f: Callable[..., Any]) -> Pipeline:
        return Pipeline(f, name or f.__name__)

    return wrap(fn) if fn is not None else wrap
