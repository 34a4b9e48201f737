"""`mlcycle data push|pull|remote|gc|validate`: remotes, garbage collection, expectations."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlcycle.cli import _context
from mlcycle.cli._output import console, err_console, print_json, table

if TYPE_CHECKING:
    from mlcycle.data._remote import TransferResult

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Paths = Annotated[
    list[Path] | None,
    typer.Argument(help="Tracked paths or pointer files [default: every pointer file]."),
]
RemoteName = Annotated[
    str | None, typer.Option("--remote", "-r", help="Remote name [default: default_remote].")
]
Jobs = Annotated[int, typer.Option("--jobs", "-j", min=1, help="Parallel transfers.")]

remote_app = typer.Typer(help="Data remotes: where `data push` sends objects.")


def register(data_app: typer.Typer) -> None:
    """Add the remote, push, pull, gc and validate commands to `data_app`."""
    data_app.add_typer(remote_app, name="remote")
    data_app.command("push")(data_push)
    data_app.command("pull")(data_pull)
    data_app.command("gc")(data_gc)
    data_app.command("validate")(data_validate)


@remote_app.command("add")
def remote_add(
    name: Annotated[str, typer.Argument(help="Remote name, e.g. 'storage'.")],
    url: Annotated[str, typer.Argument(help="fsspec URL: a folder, s3://bucket/path ...")],
    default: Annotated[bool, typer.Option("--default", help="Make it the default.")] = False,
) -> None:
    """Add (or change) a data remote in mlcycle.yaml, keeping the other keys."""
    import yaml

    from mlcycle.core import (
        CONFIG_FILE,
        ConfigError,
        atomic_write_text,
        parse_config,
        read_config_file,
    )

    if not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"Remote name {name!r} must be letters, digits, '-' or '_'")
    path = _context.workspace_path() / CONFIG_FILE
    raw = read_config_file(path)
    remotes = raw.get("remotes") or {}
    if not isinstance(remotes, dict):
        raise ConfigError(f"{path}: key 'remotes' must map names to URLs; fix it by hand")
    raw["remotes"] = {**remotes, name: url}
    if default:
        raw["default_remote"] = name
    parse_config(raw, source=str(path))  # refuse to write a config that would not load
    atomic_write_text(path, yaml.safe_dump(raw, sort_keys=False))
    console.print(f"Remote {name!r} -> {url}" + (" (default)" if default else ""))


@remote_app.command("list")
def remote_list(as_json: JsonFlag = False) -> None:
    """List the data remotes."""
    config = _context.open_workspace().config
    rows = [
        {"name": n, "url": u, "default": n == config.default_remote}
        for n, u in sorted(config.remotes.items())
    ]
    if as_json:
        print_json(rows)
        return
    table(f"{len(rows)} remotes", ["name", "url", "default"], [list(r.values()) for r in rows])


@contextmanager
def _progress(label: str, quiet: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A Rich progress bar on stderr when it is a terminal (else no callback)."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _report(verb: str, result: TransferResult, as_json: bool) -> None:
    if as_json:
        print_json(result.to_dict())
        return
    console.print(
        f"{verb} {result.sent} objects ({result.bytes:,} bytes), "
        f"{result.skipped} already there; remote {result.remote}"
    )


def data_push(
    paths: Paths = None, remote: RemoteName = None, jobs: Jobs = 8, as_json: JsonFlag = False
) -> None:
    """Send tracked data's objects to a remote (only the missing ones)."""
    from mlcycle.data._remote import push

    ws = _context.open_workspace()
    with _progress("push", as_json) as progress:
        result = push(ws, paths, remote, jobs=jobs, progress=progress)
    _report("Sent", result, as_json)


def data_pull(
    paths: Paths = None, remote: RemoteName = None, jobs: Jobs = 8, as_json: JsonFlag = False
) -> None:
    """Fetch tracked data's objects from a remote and restore the files."""
    from mlcycle.data._remote import pull

    ws = _context.open_workspace()
    with _progress("pull", as_json) as progress:
        result = pull(ws, paths, remote, jobs=jobs, progress=progress)
    _report("Fetched", result, as_json)


def data_gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Delete nothing.")] = False,
    keep_recent: Annotated[
        float, typer.Option("--keep-recent", min=0, help="Keep objects this recent (seconds).")
    ] = 3600,
    as_json: JsonFlag = False,
) -> None:
    """Remove cached objects that no pointer, run, model or step cache references."""
    from mlcycle.data._gc import gc

    result = gc(_context.open_workspace(), dry_run=dry_run, keep_recent_seconds=keep_recent)
    if as_json:
        print_json(result.to_dict())
        return
    title = "gc (dry run: nothing deleted)" if dry_run else "gc"
    rows = [
        ("objects removed", result.removed),
        ("bytes freed", f"{result.freed:,}"),
        ("objects kept", result.kept),
        ("stale temp files removed", result.temp_removed),
    ]
    table(title, ["", "count"], rows)


def data_validate(
    file: Annotated[
        Path | None, typer.Argument(help="CSV or Parquet file [default: data.path].")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check the data against `data.expectations` in mlcycle.yaml (exit 2 on failure)."""
    from mlcycle.core import ExpectationsFailed
    from mlcycle.data._expectations import check_expectations
    from mlcycle.data._io import read_table

    ws = _context.open_workspace()
    data = ws.config.require_data()
    path = file if file is not None else ws.root / data.path
    try:
        check_expectations(read_table(path), data.expectations, path.name)
    except ExpectationsFailed as err:
        _print_failures(err.failures, as_json)
        raise
    if as_json:
        print_json({"ok": True, "file": str(path), "columns": len(data.expectations)})
    elif data.expectations:
        console.print(f"{path.name}: all {len(data.expectations)} column expectations hold")
    else:
        console.print("No expectations declared: add 'data.expectations' to mlcycle.yaml")


def _print_failures(failures: list[dict[str, Any]], as_json: bool, limit: int = 50) -> None:
    if as_json:
        print_json({"ok": False, "failures": failures})
        return
    rows = [(f["column"], f["check"], f["failure_case"], f["index"]) for f in failures[:limit]]
    more = f" (first {limit})" if len(failures) > limit else ""
    table(f"{len(failures)} failed checks{more}", ["column", "check", "value", "row"], rows)
