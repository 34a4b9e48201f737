"""`mlcycle data ...`: snapshot files as dataset versions and list them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlcycle.cli import _context
from mlcycle.cli._output import console, print_json, table, when

data_app = typer.Typer(help="Dataset versions: add, list, show.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@data_app.command("add")
def data_add(
    path: Annotated[Path, typer.Argument(help="CSV or Parquet file.")],
    name: Annotated[str | None, typer.Option(help="Dataset name [default: file name].")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Snapshot a file as a dataset version (BLAKE3 content hash, rows, schema)."""
    from mlcycle.data import snapshot

    version = snapshot(_context.open_workspace(), path, name)
    if as_json:
        print_json(version.to_dict())
        return
    console.print(
        f"{version.ref}: {version.rows:,} rows, {version.size:,} bytes, blake3 {version.object_id}"
    )


@data_app.command("list")
def data_list(as_json: JsonFlag = False) -> None:
    """List dataset versions, newest first."""
    from mlcycle.data import list_dataset_versions

    versions = list_dataset_versions(_context.open_workspace())
    if as_json:
        print_json([v.to_dict() for v in versions])
        return
    table(
        f"{len(versions)} dataset versions",
        ["version", "rows", "bytes", "blake3", "created"],
        [(v.ref, v.rows, v.size, v.object_id[:16], when(v.created_at)) for v in versions],
    )


@data_app.command("show")
def data_show(
    ref: Annotated[str, typer.Argument(help="NAME@vN, or NAME for the latest.")],
    as_json: JsonFlag = False,
) -> None:
    """Show a dataset version with its schema."""
    from mlcycle.data import get_dataset_version

    version = get_dataset_version(_context.open_workspace(), ref)
    if as_json:
        print_json(version.to_dict())
        return
    console.print(f"[bold]{version.ref}[/]: {version.rows:,} rows from {version.source}")
    console.print(
        f"  blake3 {version.object_id}, {version.size:,} bytes, created {when(version.created_at)}"
    )
    table(
        "Schema",
        ["column", "dtype", "kind", "nulls", "distinct", "min", "max"],
        [
            (
                c["name"],
                c["dtype"],
                c["kind"],
                c["nulls"],
                c["distinct"],
                c["minimum"],
                c["maximum"],
            )
            for c in version.schema.values()
        ],
    )
