"""`mlcycle import mlflow URI`: bring runs over from other trackers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from mlcycle.cli import _context
from mlcycle.cli._output import err_console, print_json, table
from mlcycle.core import MlcycleError

if TYPE_CHECKING:
    from mlcycle.tracking._mlflow_import import ImportProgress, ImportResult

import_app = typer.Typer(
    help="Import experiments and runs from other trackers.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add the `import` command group to `app`."""
    app.add_typer(import_app, name="import")


@import_app.command("mlflow")
def mlflow(
    uri: Annotated[
        str,
        typer.Argument(
            help="MLflow tracking URI: a mlruns folder, file://..., sqlite:///mlflow.db, "
            "postgresql://..., http(s)://..."
        ),
    ],
    experiment: Annotated[
        list[str] | None,
        typer.Option("--experiment", "-e", help="Import only this experiment (repeatable)."),
    ] = None,
    no_artifacts: Annotated[
        bool, typer.Option("--no-artifacts", help="Skip artifact files (faster).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Copy MLflow experiments, runs, params, metric histories, tags and artifacts.

    Runs keep their MLflow ids: running the command again skips the runs
    already imported and picks up an interrupted import.
    """
    from mlcycle.tracking._mlflow_import import import_mlflow

    ws = _context.open_workspace()
    try:
        with _progress_bar() as progress:
            result = import_mlflow(
                ws,
                uri,
                experiments=experiment or None,
                artifacts=not no_artifacts,
                progress=progress,
            )
    finally:
        ws.close()
    _report(result, as_json)
    if result.failed:
        raise MlcycleError(
            f"{len(result.failed)} run(s) could not be imported (listed above); "
            "fix the cause and run the command again: imported runs are skipped"
        )


@contextmanager
def _progress_bar() -> Iterator[Callable[[ImportProgress], None]]:
    """A Rich progress bar over runs on stderr (stdout stays clean for `--json`)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("[cyan]importing runs"), BarColumn(), MofNCompleteColumn())
    info = (TimeRemainingColumn(), TextColumn("{task.description}", style="dim"))
    with Progress(*columns, *info, console=err_console, transient=True) as bar:
        task = bar.add_task("", total=None)

        def advance(p: ImportProgress) -> None:
            label = f"{p.experiment} {p.run_id[:8]}"
            bar.update(task, total=p.total, completed=p.done, description=label)

        yield advance


def _report(result: ImportResult, as_json: bool) -> None:
    if as_json:
        print_json(result.to_dict())
        return
    rows = [
        ("experiments", result.experiments),
        ("runs imported", result.runs_imported),
        ("runs skipped (already imported)", result.runs_skipped),
        ("runs failed", len(result.failed)),
        ("params", result.params),
        ("metric points", result.metric_points),
        ("tags", result.tags),
        ("artifacts", result.artifacts),
        ("artifact bytes", result.bytes),
        ("seconds", round(result.seconds, 2)),
    ]
    table(f"Imported from MLflow {result.uri}", ["", "count"], rows)
    if result.failed:
        table("Runs not imported", ["run", "reason"], result.failed)
