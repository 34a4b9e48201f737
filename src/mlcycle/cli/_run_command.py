"""`mlcycle run` without Typer: the command's work, shared by Typer and the CLI's fast path.

A no-op run is the command people run after every edit, and Typer's start-up
and option parsing cost more than its work (its limit: 0.3 s for 10 steps).
So `mlcycle [-w WS] run [--force] [--json]` skips Typer (see
:func:`mlcycle.cli._main.main`), and when every step is cached and
`mlcycle.yaml` is plain, the pydantic config model too (:func:`fast_run`);
everything else goes through :mod:`mlcycle.cli._run`, and both end in
:func:`run_command`. Rich loads only to print.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, cast

from mlcycle.cli import _context
from mlcycle.core import InputError

if TYPE_CHECKING:
    from mlcycle.core import Config
    from mlcycle.pipeline._executor import Executor
    from mlcycle.pipeline._runner import PipelineResult, StepOutcome
    from mlcycle.store import Workspace


def _err(text: str) -> None:
    from mlcycle.cli._output import err_console

    err_console.print(text)


class StepProgress:
    """One line per step event on stderr (stdout stays clean for `--json`)."""

    def step_started(self, name: str) -> None:
        _err(f"[cyan]>[/] {name}: running")

    def step_skipped(self, outcome: StepOutcome) -> None:
        _err(f"[dim]= {outcome.name}: cached[/]")

    def step_finished(self, outcome: StepOutcome) -> None:
        _err(f"[green]✓[/] {outcome.name}: ran in {outcome.seconds:.2f} s")

    def step_failed(self, outcome: StepOutcome) -> None:
        _err(f"[red]✗[/] {outcome.name}: failed")


def _pairs(options: list[str], flag: str) -> list[tuple[str, str]]:
    pairs = []
    for option in options:
        key, eq, value = option.partition("=")
        if not eq or not key:
            raise InputError(f"{flag} {option!r} must look like KEY=VALUE (e.g. {flag} trials=5)")
        pairs.append((key.strip(), value))
    return pairs


def parse_grid(params: list[str], sweeps: list[str]) -> list[dict[str, Any]]:
    """The parameter sets to run: `-P` values crossed with every `--sweep` combination.

    Raises:
        InputError: for an option that is not `KEY=VALUE`.
    """
    from mlcycle.pipeline._load import parse_value

    base = {k: parse_value(v) for k, v in _pairs(params, "-P")}
    axes = [(k, [parse_value(x) for x in v.split(",")]) for k, v in _pairs(sweeps, "--sweep")]
    combos = itertools.product(*(values for _, values in axes))
    return [{**base, **dict(zip([k for k, _ in axes], combo, strict=True))} for combo in combos]


def run_command(
    pipeline: str | None = None,
    force: bool = False,
    only: str | None = None,
    downstream: bool = False,
    param: list[str] | None = None,
    sweep: list[str] | None = None,
    executor: str | None = None,
    address: str | None = None,
    as_json: bool = False,
) -> None:
    """`mlcycle run` (see :func:`mlcycle.cli._run.run` for the options)."""
    from mlcycle.pipeline._load import load_dag
    from mlcycle.pipeline._runner import run_pipeline

    if downstream and only is None:
        raise InputError("--downstream needs --only STEP")
    grid = parse_grid(param or [], sweep or [])
    ws = _context.open_workspace()
    pool = _executor(ws, executor, address, shared=len(grid) > 1)
    results: list[PipelineResult] = []
    try:
        for params in grid:
            graph, name = load_dag(ws.root, ws.config, pipeline, params)
            results.append(
                run_pipeline(
                    ws,
                    graph,
                    name=name,
                    params=params,
                    force=force,
                    only=only,
                    downstream=downstream,
                    executor=pool,
                    observer=StepProgress(),
                )
            )
    finally:
        if pool is not None:
            pool.shutdown()
    _report(results, as_json, sweep=bool(sweep))


def _executor(
    ws: Workspace, name: str | None, address: str | None, shared: bool
) -> Executor | None:
    """An executor from the options, or one shared by a sweep; None: the runner makes its own."""
    if name is None and address is None and not shared:
        return None
    from mlcycle.pipeline._executor import make_executor

    cfg = ws.config.pipeline
    return make_executor(
        name or cfg.executor, address=address or cfg.address, max_workers=cfg.max_workers
    )


def _report(results: list[PipelineResult], as_json: bool, sweep: bool) -> None:
    from mlcycle.cli._output import print_json, table

    if as_json:
        data = [r.to_dict() for r in results]
        print_json(data if sweep else data[0])
        return
    for result in results:
        title = f"Pipeline {result.pipeline}"
        if result.params:
            title += " " + " ".join(f"{k}={v}" for k, v in result.params.items())
        rows = [(s.name, s.status, round(s.seconds, 2), s.run_id) for s in result.steps]
        table(title, ["step", "status", "seconds", "run"], rows)


class _Recorder:
    """Holds progress events to show once the run is known to need nothing but the cache."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def step_started(self, name: str) -> None:
        self.events.append(("step_started", name))

    def step_skipped(self, outcome: StepOutcome) -> None:
        self.events.append(("step_skipped", outcome))

    def step_finished(self, outcome: StepOutcome) -> None:
        self.events.append(("step_finished", outcome))

    def step_failed(self, outcome: StepOutcome) -> None:
        self.events.append(("step_failed", outcome))

    def replay(self, observer: StepProgress) -> None:
        for method, arg in self.events:
            getattr(observer, method)(arg)


def _cached_run(as_json: bool) -> bool:
    """A run in which every step is cached, on the light config (no pydantic); False if it
    is not that (a step to run, a config the model must read): nothing was printed then."""
    from mlcycle.pipeline._load import light_config, load_dag
    from mlcycle.pipeline._runner import StepsToRun, run_pipeline
    from mlcycle.store._workspace import Workspace

    root = _context.workspace_path()
    config = light_config(root)
    if config is None:
        return False
    with Workspace(root, cast("Config", config)) as ws:
        _context.log_to(ws.state_dir / "logs" / "mlcycle.log")
        graph, name = load_dag(ws.root, ws.config, None, {})
        events = _Recorder()
        try:
            result = run_pipeline(
                ws, graph, name=name, params={}, observer=events, cached_only=True
            )
        except StepsToRun:
            return False
    events.replay(StepProgress())
    _report([result], as_json, sweep=False)
    return True


def fast_run(argv: list[str]) -> int | None:
    """Run `run [--force] [--json]` (the arguments after `run`) without Typer; None otherwise.

    A plain run whose steps are all cached uses the light config (see
    :func:`mlcycle.pipeline._load.light_config`); otherwise the config model loads.
    """
    if any(a not in ("--force", "--json") for a in argv):
        return None
    as_json, force = "--json" in argv, "--force" in argv
    if not force and _cached_run(as_json):
        return 0
    run_command(force=force, as_json=as_json)
    return 0
