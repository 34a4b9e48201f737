"""`mlcycle predict`: batch scoring of a Parquet or CSV file into Parquet."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from mlcycle.cli import _context
from mlcycle.cli._output import console, err_console


def register(app: typer.Typer) -> None:
    """Add the commands of this module to `app`."""
    app.command("predict")(predict)


def _total_rows(path: Path) -> int | None:
    if path.suffix.lower() not in (".parquet", ".pq") or not path.is_file():
        return None
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


@contextmanager
def _progress(total: int | None) -> Iterator[Callable[[int], None] | None]:
    """A Rich progress bar of scored rows on stderr when it is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task("Scoring rows", total=total)
        yield lambda rows: bar.advance(task, rows)


def predict(
    model: Annotated[str, typer.Argument(help="MODEL@ALIAS, MODEL@VERSION or MODEL (latest).")],
    input_path: Annotated[Path, typer.Option("--input", help="Rows to score (.parquet or .csv).")],
    output: Annotated[Path, typer.Option(help="Parquet file to write.")],
    keep: Annotated[
        list[str] | None, typer.Option("--keep", help="Input column to copy to the output.")
    ] = None,
    batch_rows: Annotated[int, typer.Option(help="Rows per batch (bounds memory).")] = 65_536,
    executor: Annotated[
        str | None, typer.Option(help="Score Parquet row groups in parallel: 'ray' or 'local'.")
    ] = None,
    address: Annotated[str | None, typer.Option(help="Ray cluster address HOST:PORT.")] = None,
    tasks: Annotated[int, typer.Option(help="Parallel tasks (with --executor).")] = 4,
) -> None:
    """Score every row of a file with a registered model; write predictions to Parquet."""
    from mlcycle.models import fetch_package, load_package
    from mlcycle.registry import resolve
    from mlcycle.serving._scoring import score_file, score_parallel

    ws = _context.open_workspace()
    version = resolve(ws, model)
    with _progress(_total_rows(input_path)) as advance:
        if executor is None:
            folder = fetch_package(ws.objects, version.package_id, ws.state_dir / "packages")
            result = score_file(
                load_package(folder), input_path, output, keep=keep or (), batch_rows=batch_rows,
                on_batch=advance,
            )  # fmt: skip
        else:
            from mlcycle.pipeline import make_executor

            pool = make_executor(executor, address=address)
            try:
                result = score_parallel(
                    pool, ws.objects, version.package_id, input_path, output, keep=keep or (),
                    batch_rows=batch_rows, tasks=tasks, on_part=advance,
                )  # fmt: skip
            finally:
                pool.shutdown()
    console.print(
        f"Scored {result.rows} rows with {version.model_name} v{version.version} "
        f"in {result.parts} part(s): {result.output}",
        soft_wrap=True,
    )
