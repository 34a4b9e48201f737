"""Running a DAG: cache look-ups, parallel execution, one tracked run per step.

Steps go to the executor as soon as their upstream steps are resolved
(ran or cached); `concurrent.futures.wait(FIRST_COMPLETED)` picks up each
result. A step whose cache key has a complete entry is skipped and its file
outs are restored if they are missing or changed. The metadata database is
opened only when a step actually runs, so a no-op run only hashes files
and reads small JSON files. The runner prints nothing: it reports to an
:class:`Observer` (the CLI draws progress from those events).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from mlcycle.core import MlcycleError, PipelineError, StepFailed
from mlcycle.pipeline import _cache
from mlcycle.pipeline._cache_key import cache_key, code_hash
from mlcycle.pipeline._dag import Dag, DagNode
from mlcycle.pipeline._execute import StepResult, StepTask, execute_step
from mlcycle.pipeline._stages import substitute

if TYPE_CHECKING:
    from mlcycle.pipeline._executor import Executor
    from mlcycle.store import Workspace
    from mlcycle.tracking import Run

Status = Literal["ran", "cached", "failed", "not run"]


@dataclass(frozen=True)
class StepOutcome:
    """How one step ended: `status`, wall `seconds`, the run that made its outputs, its key."""

    name: str
    status: Status
    seconds: float = 0.0
    run_id: str | None = None
    key: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class PipelineResult:
    """One execution of a pipeline: its run (None if every step was cached) and its steps."""

    pipeline: str
    run_id: str | None
    steps: list[StepOutcome]
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return {
            "pipeline": self.pipeline,
            "run_id": self.run_id,
            "params": self.params,
            "steps": [s.__dict__ for s in self.steps],
        }


class StepsToRun(PipelineError):
    """Raised by :func:`run_pipeline` with `cached_only` when a step is not cached."""


class Observer(Protocol):
    """Receives progress events of :func:`run_pipeline` (called in the driver, in order)."""

    def step_started(self, name: str) -> None:
        """`name` was handed to the executor."""

    def step_skipped(self, outcome: StepOutcome) -> None:
        """`outcome.name` was cached and not run."""

    def step_finished(self, outcome: StepOutcome) -> None:
        """`outcome.name` ran and its outputs are cached."""

    def step_failed(self, outcome: StepOutcome) -> None:
        """`outcome.name` raised or exited non-zero (`outcome.error` says how)."""


class _Silent:
    def step_started(self, name: str) -> None:
        pass

    def step_skipped(self, outcome: StepOutcome) -> None:
        pass

    def step_finished(self, outcome: StepOutcome) -> None:
        pass

    def step_failed(self, outcome: StepOutcome) -> None:
        pass


def run_pipeline(
    ws: Workspace,
    dag: Dag,
    *,
    name: str = "pipeline",
    params: Mapping[str, Any] | None = None,
    force: bool = False,
    only: str | None = None,
    downstream: bool = False,
    executor: Executor | None = None,
    observer: Observer | None = None,
    cached_only: bool = False,
) -> PipelineResult:
    """Run the steps of `dag` that are not cached.

    Args:
        ws: the workspace (its object store holds every output).
        dag: from :func:`mlcycle.pipeline.load_dag`.
        name: the pipeline's name (the name of its tracked run).
        params: the `-P` overrides, logged as the pipeline run's params.
        force: run the selected steps even when cached.
        only: run just this step; upstream steps give their cached outputs.
        downstream: with `only`, also run every step downstream of it.
        executor: where steps run (default: `pipeline.executor` of the config).
        observer: receives progress events.
        cached_only: raise :class:`StepsToRun` instead of running a step
            (nothing runs, nothing is tracked; outputs of cached steps may be restored).

    Raises:
        StepFailed: naming the first step that failed (upstream results stay cached).
        PipelineError: for an unknown `only` step, an upstream step with no
            cached result under `only`, or a step value of an unsupported type.
    """
    runner = _Runner(ws, dag, dict(params or {}), executor, observer or _Silent())
    runner.cached_only = cached_only
    return runner.run(name, dag.select(only, downstream), force)


class _Runner:
    def __init__(
        self,
        ws: Workspace,
        dag: Dag,
        params: dict[str, Any],
        executor: Executor | None,
        observer: Observer,
    ) -> None:
        self.ws, self.dag, self.params, self.observer = ws, dag, params, observer
        self.executor, self._own_executor = executor, executor is None
        self.entries: dict[str, dict[str, Any]] = {}
        self.outcomes: dict[str, StepOutcome] = {}
        self.futures: dict[Future[StepResult], str] = {}
        self.parent: Run | None = None
        self.failure: MlcycleError | None = None
        self._codes: dict[Callable[..., Any], str] = {}
        self.cached_only = False

    def run(self, name: str, selected: list[str], force: bool) -> PipelineResult:
        needed = set(selected).union(*(self.dag.ancestors(s) for s in selected))
        pending = [n for n in self.dag.nodes if n in needed]
        try:
            self._loop(name, pending, set(selected), force)
        finally:
            self._close()
        _cache.remember_keys(self.ws.state_dir, {n: e["key"] for n, e in self.entries.items()})
        if self.failure is not None:
            raise self.failure
        steps = [self.outcomes[n] for n in selected if n in self.outcomes]
        return PipelineResult(name, self.parent.id if self.parent else None, steps, self.params)

    def _loop(self, name: str, pending: list[str], selected: set[str], force: bool) -> None:
        while pending or self.futures:
            ready = [] if self.failure else [n for n in pending if self._ready(n)]
            for step in ready:
                pending.remove(step)
                self._resolve(name, step, step in selected, force)
            if self.failure is not None:
                pending.clear()
                for future in self.futures:
                    future.cancel()
            if self.futures:
                done, _ = wait(list(self.futures), return_when=FIRST_COMPLETED)
                for future in done:
                    self._collect(future)
            elif not ready:
                break

    def _ready(self, step: str) -> bool:
        return all(u in self.entries for u in self.dag.upstream[step])

    def _resolve(self, name: str, step: str, selected: bool, force: bool) -> None:
        node = self.dag.nodes[step]
        key, dep_ids = self._key(node)
        entry = None if (force and selected) else self._cached(key)
        if entry is None and not selected:
            entry = self._cached(_cache.latest_keys(self.ws.state_dir).get(step))
            if entry is None:
                raise PipelineError(
                    f"step '{step}' has no cached result to feed the selected steps; "
                    "run the pipeline without --only first"
                )
        if entry is not None:
            self._restore(node, entry)
            self.entries[step] = entry
            outcome = StepOutcome(step, "cached", 0.0, entry["run_id"], key)
            if selected:
                self.outcomes[step] = outcome
                self.observer.step_skipped(outcome)
            return
        self._submit(name, node, key, dep_ids)

    def _cached(self, key: str | None) -> dict[str, Any] | None:
        if key is None:
            return None
        entry = _cache.read_entry(self.ws.state_dir, key)
        return entry if entry and _cache.complete(self.ws.objects, entry) else None

    def _key(self, node: DagNode) -> tuple[str, dict[str, str]]:
        from mlcycle.data import hash_path

        dep_ids = {d: hash_path(self.ws, self.ws.root / d).oid for d in node.deps}
        inputs = {f"file:{d}": oid for d, oid in dep_ids.items()}
        if node.step is not None:
            code = self._code(node.step.fn)
            for arg, up in node.inputs.items():
                inputs[arg] = self.entries[up]["outputs"]["return"]["oid"]
        else:
            code = self._cmd(node)
        return cache_key(node.kind, code, node.params, inputs), dep_ids

    def _code(self, fn: Callable[..., Any]) -> str:
        if fn not in self._codes:  # a step called twice in a pipeline is hashed once
            self._codes[fn] = code_hash(fn, self.ws.root)
        return self._codes[fn]

    @staticmethod
    def _cmd(node: DagNode) -> str:
        if node.stage is None:
            raise PipelineError(f"step '{node.name}' has neither a function nor a command")
        return substitute(node.name, node.stage.cmd, node.params)

    def _restore(self, node: DagNode, entry: dict[str, Any]) -> None:
        from mlcycle.pipeline._values import restore_if_changed

        for out in node.outs:
            record = entry["outputs"][out]
            restore_if_changed(self.ws, record["kind"], record["oid"], self.ws.root / out)

    def _submit(self, name: str, node: DagNode, key: str, dep_ids: dict[str, str]) -> None:
        if self.cached_only:
            raise StepsToRun(f"step '{node.name}' is not cached")
        task = StepTask(
            root=str(self.ws.root),
            config=self.ws.config,
            name=node.name,
            kind=node.kind,
            key=key,
            parent_run=self._parent(name).id,
            params=dict(node.params),
            step_ref=node.step.ref if node.step else None,
            cmd=None if node.step else self._cmd(node),
            inputs={a: self.entries[u]["outputs"]["return"] for a, u in node.inputs.items()},
            dep_ids=dep_ids,
            outs=node.outs,
            metrics=node.metrics,
            upstream_runs=tuple(self.entries[u]["run_id"] for u in self.dag.upstream[node.name]),
        )
        future = self._executor().submit(
            execute_step, task, resources=node.resources, max_retries=node.retries
        )
        self.futures[future] = node.name
        self.observer.step_started(node.name)

    def _collect(self, future: Future[StepResult]) -> None:
        step = self.futures.pop(future)
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            result = future.result()
            self.entries[step] = result.entry
            outcome = StepOutcome(step, "ran", result.seconds, result.run_id, result.entry["key"])
            self.outcomes[step] = outcome
            self.observer.step_finished(outcome)
            return
        failure = _as_failure(step, error)
        self.outcomes[step] = StepOutcome(step, "failed", error=str(failure))
        self.observer.step_failed(self.outcomes[step])
        self.failure = self.failure or failure

    def _parent(self, name: str) -> Run:
        if self.parent is None:
            from mlcycle.tracking import start_run

            tags = {"mlcycle.kind": "pipeline", "mlcycle.pipeline": name}
            self.parent = start_run(
                self.ws, experiment=self.ws.config.experiment, name=name, tags=tags
            )
            self.parent.log_params(self.params)
        return self.parent

    def _executor(self) -> Executor:
        if self.executor is None:
            from mlcycle.pipeline._executor import make_executor

            cfg = self.ws.config.pipeline
            self.executor = make_executor(
                cfg.executor, address=cfg.address, max_workers=cfg.max_workers
            )
        return self.executor

    def _close(self) -> None:
        if self._own_executor and self.executor is not None:
            self.executor.shutdown()
        if self.parent is not None:
            self.parent.end("FAILED" if self.failure else "FINISHED")


def _as_failure(step: str, error: BaseException) -> MlcycleError:
    if isinstance(error, MlcycleError):
        return error
    return StepFailed(f"step '{step}' failed: {type(error).__name__}: {error}")
