"""`mlcycle labels add FILE`: ground truth that arrives after the predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlcycle.cli import _context
from mlcycle.cli._output import console, print_json
from mlcycle.core import InputError

labels_app = typer.Typer(help="Ground truth (labels) for logged predictions.")


def register(app: typer.Typer) -> None:
    """Add the commands of this module to `app`."""
    app.add_typer(labels_app, name="labels")


@labels_app.command("add")
def add(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file of ids and labels.")],
    id_column: Annotated[
        str, typer.Option(help="Column of prediction ids (or request ids of one-row requests).")
    ] = "request_id",
    label_column: Annotated[
        str | None, typer.Option(help="Column of true values [default: the data's target].")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Join labels to the inference log; unknown ids are counted, and all unknown is an error."""
    from mlcycle.data import read_table
    from mlcycle.loop import add_labels

    ws = _context.open_workspace()
    column = label_column or (ws.config.data.target if ws.config.data else "label")
    frame = read_table(file)
    for name, role in ((id_column, "--id-column"), (column, "--label-column")):
        if name not in frame.columns:
            raise InputError(f"{file}: no column {name!r} ({role}); columns: {list(frame.columns)}")
    result = add_labels(ws, frame[id_column].astype(str).tolist(), frame[column].tolist())
    if result.matched == 0 and result.unknown:
        raise InputError(
            f"{file}: none of the {result.unknown} ids in column {id_column!r} is in the "
            f"inference log (e.g. {result.unknown_examples[0]!r}); ids are prediction ids "
            "'<request_id>-<row>' or request ids of one-row requests"
        )
    if as_json:
        print_json(result.to_dict())
        return
    console.print(f"{result.matched} labels joined; {result.unknown} ids unknown.")
    if result.unknown:
        console.print(f"Unknown ids, e.g.: {', '.join(result.unknown_examples)}")
