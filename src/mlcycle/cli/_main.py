"""The Typer app, global options and the error boundary.

Exit codes: 0 ok, 1 the work itself failed, 2 bad input (a file, a
column, a name, an option). User errors print one line, no traceback;
`--debug` shows it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from mlcycle.cli import _context
from mlcycle.core import MlcycleError

app = typer.Typer(
    name="mlcycle",
    help="The ML lifecycle as one closed loop: data, training, registry, serving, monitoring.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _global(
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace", "-w", help="Workspace folder \\[default: $MLCYCLE_WORKSPACE or .]"
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    _context.set_options(workspace or Path(os.environ.get("MLCYCLE_WORKSPACE") or "."), debug)


def _register_commands() -> None:
    from mlcycle.cli import _data, _inspect, _loop, _serve

    _loop.register(app)
    _serve.register(app)
    app.add_typer(_inspect.runs_app, name="runs")
    app.add_typer(_inspect.models_app, name="models")
    app.add_typer(_data.data_app, name="data")


_register_commands()


def main() -> None:
    """Run the CLI; map mlcycle errors to one line on stderr and exit codes 1/2."""
    try:
        app()
    except MlcycleError as err:
        if _context.debug():
            raise
        print(f"Error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        sys.exit(130)
