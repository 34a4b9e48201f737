"""`mlcycle data ...`: track files and folders, see what changed, restore versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlcycle.cli import _context
from mlcycle.cli._output import console, fmt, print_json, table, when

data_app = typer.Typer(
    help="Data versioning: add, status, diff, checkout, log, list, show.", no_args_is_help=True
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@data_app.command("add")
def data_add(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders in the workspace.")],
    name: Annotated[str | None, typer.Option(help="Dataset name (one path only).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Track files and folders: cache them, write PATH.mlc for git, record a version."""
    from mlcycle.cli._data_add import LateProgress, print_added
    from mlcycle.data import add_paths

    progress = LateProgress()
    try:
        versions = add_paths(_context.open_workspace(), list(paths), name=name, progress=progress)
    finally:
        progress.stop()
    print_added(versions, as_json)


@data_app.command("status")
def data_status(
    paths: Annotated[list[str] | None, typer.Argument(help="Tracked paths [default: all].")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show tracked paths that changed (modified, deleted, not in cache) since their pointer."""
    from mlcycle.data import status
    from mlcycle.data._status import format_status

    found = status(_context.open_workspace(), paths or None)
    if as_json:
        print_json([s.to_dict() for s in found])
        return
    print(format_status(found))


@data_app.command("diff")
def data_diff(
    a: Annotated[str, typer.Argument(help="PATH@vN, PATH@HASH, or PATH (the workspace).")],
    b: Annotated[str, typer.Argument(help="PATH@vN, PATH@HASH, or PATH (the workspace).")],
    as_json: JsonFlag = False,
) -> None:
    """Files added, removed and modified from A to B; rows and columns for tables."""
    from mlcycle.data import diff

    result = diff(_context.open_workspace(), a, b)
    if as_json:
        print_json(result.to_dict())
        return
    rows = [(k, f) for k in ("added", "removed", "modified") for f in getattr(result, k)]
    table(f"{a} -> {b}: {len(rows)} files changed", ["change", "file"], rows)
    if result.table is not None:
        t = result.table
        console.print(
            f"rows {t.rows_a:,} -> {t.rows_b:,} (+{t.rows_added:,} -{t.rows_removed:,}); "
            f"columns added {list(t.columns_added)}, removed {list(t.columns_removed)}"
        )


@data_app.command("checkout")
def data_checkout(
    ref: Annotated[str, typer.Argument(help="PATH@vN, PATH@HASH, or PATH (its pointer file).")],
    force: Annotated[bool, typer.Option(help="Discard changes that are not cached.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Restore a tracked file or folder to a version (atomically) and update its pointer."""
    from mlcycle.data import checkout

    pointer = checkout(_context.open_workspace(), ref, force=force)
    if as_json:
        print_json(dict(pointer.__dict__))
        return
    console.print(f"{pointer.path}: {pointer.kind}, {pointer.size:,} bytes, blake3 {pointer.oid}")


@data_app.command("log")
def data_log(
    path: Annotated[str, typer.Argument(help="A tracked file or folder.")],
    as_json: JsonFlag = False,
) -> None:
    """List the versions of a tracked path, newest first (* = what its pointer says)."""
    from mlcycle.data import log

    entries = log(_context.open_workspace(), path)
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    table(
        f"{path}: {len(entries)} versions",
        ["", "version", "files", "bytes", "rows", "blake3", "created"],
        [
            (
                "*" if e.current else "",
                f"v{e.version.version}",
                e.version.files,
                e.version.size,
                e.version.rows,
                e.version.object_id[:16],
                when(e.version.created_at),
            )
            for e in entries
        ],
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
        ["version", "kind", "rows", "bytes", "blake3", "created"],
        [(v.ref, v.kind, v.rows, v.size, v.object_id[:16], when(v.created_at)) for v in versions],
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
    console.print(f"[bold]{version.ref}[/]: {fmt(version.rows)} rows from {version.source}")
    console.print(
        f"  {version.kind}, {version.files:,} files, blake3 {version.object_id}, "
        f"{version.size:,} bytes, created {when(version.created_at)}"
    )
    if not version.schema:
        return
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


from mlcycle.cli import _data_remote  # noqa: E402 - registers push/pull/gc/validate

_data_remote.register(data_app)
