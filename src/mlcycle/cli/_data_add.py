"""`mlcycle data add`'s output and progress, shared by the Typer command and the fast path.

Nothing here imports Typer, and Rich only when it shows something: a
progress bar on a terminal after 1 s, or a line that plain `print` would not
write the way Rich does (see :func:`_plain_line`). The fast path,
:func:`fast_add`, runs `data add` on a workspace with a trivial config
before Typer, Rich and pydantic load (see :mod:`mlcycle.data._fast`).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.progress import Progress

    from mlcycle.data import DatasetVersion

#: Environment variables that change how Rich writes (color, width): print through Rich then.
_RICH_ENV = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "JUPYTER_COLUMNS")


class LateProgress:
    """A byte counter that shows a progress bar on stderr once work has taken over 1 s."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.bar: Progress | None = None
        self.task: Any = None
        self.lock = threading.Lock()
        self.enabled = sys.stderr.isatty()

    def __call__(self, nbytes: int) -> None:
        if not self.enabled:
            return
        with self.lock:
            if self.bar is None and time.monotonic() - self.start > 1.0:
                self._start()
            if self.bar is not None:
                self.bar.advance(self.task, nbytes)

    def _start(self) -> None:
        from rich.progress import (
            DownloadColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TransferSpeedColumn,
        )

        from mlcycle.cli._output import err_console

        columns = (SpinnerColumn(), TextColumn("hashing"), DownloadColumn(), TransferSpeedColumn())
        self.bar = Progress(*columns, console=err_console, transient=True)
        self.bar.start()
        self.task = self.bar.add_task("hashing", total=None)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def added_line(v: DatasetVersion) -> str:
    """The line `data add` prints for a version."""
    rows = f", {v.rows:,} rows" if v.rows is not None else ""
    what = f"{v.files:,} files, " if v.kind == "dir" else ""
    return f"{v.ref}: {what}{v.size:,} bytes{rows}, blake3 {v.object_id[:16]}"


def _width() -> int:
    """The width Rich's console assumes: `$COLUMNS`, else the first terminal of stdin,
    stdout and stderr, else 80 (0 when unsure: Rich prints then)."""
    columns = os.environ.get("COLUMNS")
    if columns is not None:
        return int(columns) if columns.isdigit() else 0
    for fd in (0, 1, 2):
        try:
            return os.get_terminal_size(fd).columns or 80
        except (OSError, ValueError):
            continue
    return 80


def _plain_line(line: str) -> bool:
    """Whether Rich's `console.print(line)` writes exactly `line` (no color, markup,
    emoji code or wrapping can apply)."""
    if sys.stdout.isatty() or any(var in os.environ for var in _RICH_ENV):
        return False
    return (
        line.isascii()
        and line.isprintable()
        and "[" not in line
        and line.count(":") == 1
        and len(line) <= _width()
    )


def print_added(versions: list[DatasetVersion], as_json: bool) -> None:
    """Print what `data add` recorded: JSON for scripts, else one line per version."""
    if as_json:
        from mlcycle.cli._output import print_json

        print_json([v.to_dict() for v in versions])
        return
    for line in (added_line(v) for v in versions):
        if _plain_line(line):
            print(line)
        else:
            from mlcycle.cli._output import console

            console.print(line)


def fast_add(workspace: Path, paths: list[str], name: str | None, as_json: bool) -> int | None:
    """`data add` without Typer, Rich or pydantic; None if the workspace needs the full path.

    Raises:
        MlcycleError: as :func:`mlcycle.data.add_paths`.
    """
    from mlcycle.data._fast import light_workspace

    ws = light_workspace(workspace)
    if ws is None:
        return None
    from mlcycle.cli._context import log_to
    from mlcycle.data._versioning import add_paths

    log_to(ws.state_dir / "logs" / "mlcycle.log")  # as the full path: warnings go there

    progress = LateProgress()
    try:
        versions = add_paths(ws, [Path(p) for p in paths], name=name, progress=progress)
    finally:
        progress.stop()
    print_added(versions, as_json)
    return 0
