"""`mlcycle quickstart`, `mlcycle init`, `mlcycle loop --replay`, `loop run` and `loop history`."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from mlcycle.cli import _context
from mlcycle.cli._output import console, err_console, print_json, table, when
from mlcycle.core import InputError

TaskOption = Literal["regression", "classification"]


loop_app = typer.Typer(
    help="The loop: replay the data (--replay), run the controller, show its decisions.",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    """Add the commands of this module to `app`."""
    app.command("quickstart")(quickstart)
    app.command("init")(init)
    app.add_typer(loop_app, name="loop")


class RichObserver:
    """Draws the loop's progress: a bar for AutoML trials and one line per window."""

    def __init__(self, metric: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.metric = metric
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        )
        self.task: Any = None

    def stage(self, message: str) -> None:
        err_console.print(f"[bold cyan]>[/] {message}")

    def trial(self, done: int, total: int, family: str, value: float) -> None:
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task("AutoML trials", total=total)
        self.progress.update(
            self.task,
            completed=done,
            description=f"AutoML trials (last: {family} {self.metric}={value:.4g})",
        )
        if done >= total:
            self.progress.stop()

    def window(self, outcome: Any) -> None:
        err_console.print(
            f"  {outcome.window}: {outcome.rows} rows, drift share {outcome.drift_share:.2f}, "
            f"live {self.metric} {outcome.live_metric:.4g} (v{outcome.version}), {outcome.action}"
        )


def init(
    data: Annotated[Path | None, typer.Option(help="CSV or Parquet file with your data.")] = None,
    target: Annotated[str | None, typer.Option(help="Column to predict.")] = None,
    time_column: Annotated[
        str | None, typer.Option(help="Date/time column: split and windows follow it.")
    ] = None,
    task: Annotated[
        TaskOption | None, typer.Option(help="regression or classification [default: guessed]")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Registered model name [default: the file name]")
    ] = None,
) -> None:
    """Create a workspace; with --data and --target, set it up for that data."""
    from mlcycle.cli._setup import init_config, init_empty

    root = _context.workspace_path()
    if data is None and target is None:
        init_empty(root)
        console.print(f"Initialized an empty mlcycle workspace in {root.resolve()}")
        return
    if data is None or target is None:
        raise InputError("init needs both --data and --target (or neither for an empty workspace)")
    init_config(root, data, target, time_column=time_column, task=task, name=name)


def _replay_and_report(root: Path, months: int | None, trials: int | None, as_json: bool) -> None:
    from mlcycle.cli._setup import run_loop

    result, html, json_path = run_loop(
        root, max_windows=months, trials=trials, observer_factory=RichObserver
    )
    if as_json:
        print_json([w.to_row() for w in result.windows])
        return
    metric = result.metric
    table(
        "The loop, window by window",
        [
            "window",
            "rows",
            "drift share",
            f"live {metric}",
            f"v{result.initial_version} {metric}",
            "version",
            "action",
        ],
        [
            (
                w.window,
                w.rows,
                f"{w.drift_share:.2f}",
                f"{w.live_metric:.1f}",
                f"{w.baseline_metric:.1f}",
                f"v{w.version}",
                w.action,
            )
            for w in result.windows
        ],
    )
    console.print(
        f"{result.requests} requests, {result.failed_requests} failed; "
        f"{result.retrains} retrainings, {result.promotions} promotions."
    )
    console.print(f"Report: {html}\nJSON:   {json_path}")
    console.print(
        "Actions: a candidate is retrained when drift or error passes the policy; "
        "it is promoted when it beats production on the newest window by the margin."
    )


def quickstart(
    months: Annotated[
        int | None, typer.Option(help="Replay only the first N months of 2012.")
    ] = None,
    trials: Annotated[int | None, typer.Option(help="AutoML trials [default: 12].")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
) -> None:
    """Run the whole loop on the bundled UCI Bike Sharing data (2011 trains, 2012 replays)."""
    from mlcycle.cli._setup import has_data_config, init_config
    from mlcycle.data import BIKE_SHARING_CSV

    root = _context.workspace_path()
    target_csv = root / "data" / "hour.csv"
    if not target_csv.exists():
        target_csv.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(BIKE_SHARING_CSV, target_csv)
        shutil.copyfile(BIKE_SHARING_CSV.with_name("README.md"), target_csv.with_name("README.md"))
    if not has_data_config(root):
        init_config(
            root,
            target_csv,
            "cnt",
            time_column="dteday",
            task="regression",
            train_end="2012-01-01",
            name="bike-demand",
            quiet=True,
        )
    _replay_and_report(root, months, trials, as_json)


@loop_app.callback()
def loop(
    ctx: typer.Context,
    replay: Annotated[
        bool, typer.Option("--replay", help="Replay the data after the training period.")
    ] = False,
    windows: Annotated[int | None, typer.Option(help="Replay only the first N windows.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
) -> None:
    """Run the loop on the workspace's data: train, serve, monitor, retrain, promote."""
    if ctx.invoked_subcommand is not None:
        return
    if not replay:
        raise InputError(
            "mlcycle loop needs --replay (replay the data after the training period), "
            "or a command: run, history"
        )
    _replay_and_report(_context.workspace_path(), windows, None, as_json)


def _print_decisions(decisions: Sequence[Any], *, title: str) -> None:
    table(
        title,
        ["time", "model", "action", "window", "versions", "reason", "runs"],
        [
            (
                when(d.timestamp),
                d.model_name,
                d.action,
                d.window,
                f"v{d.from_version or '-'} -> v{d.to_version or '-'}",
                d.reason,
                ", ".join(r[:8] for r in d.runs),
            )
            for d in decisions
        ],
    )


@loop_app.command("run")
def run(
    once: Annotated[bool, typer.Option("--once", help="Do one tick and exit.")] = False,
    poll: Annotated[
        float, typer.Option(min=0.1, help="Seconds between checks for new labels.")
    ] = 10.0,
) -> None:
    """Run the loop controller on `loop.policy` until stopped (SIGTERM or Ctrl-C)."""
    import signal
    import threading

    from mlcycle.loop import Controller, SystemClock, loop_history, run_controller

    ws = _context.open_workspace()
    controller = Controller(ws, ws.config)
    if once:
        result = controller.tick(SystemClock().now())
        controller.close()
        if not result.leased:
            err_console.print(f"Another controller holds the lease on {controller.model}.")
        _print_decisions(loop_history(ws, controller.model, len(result.decisions)), title="Tick")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    err_console.print(
        f"Loop controller on {controller.model} ({controller.policy.schedule}); Ctrl-C stops it."
    )
    try:
        run_controller(controller, stop, poll_seconds=poll)
    except KeyboardInterrupt:
        stop.set()


@loop_app.command("history")
def history(
    model: Annotated[str | None, typer.Option(help="Only this model's decisions.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the loop controller's decisions, newest first, with their evidence."""
    from mlcycle.loop import loop_history

    decisions = loop_history(_context.open_workspace(), model, limit)
    if as_json:
        print_json([d.to_dict() for d in decisions])
        return
    _print_decisions(decisions, title="Loop decisions")
