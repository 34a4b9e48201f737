"""The Typer app, global options and the error boundary.

Exit codes: 0 ok, 1 the work itself failed, 2 bad input (a file, a
column, a name, an option). User errors print one line, no traceback;
`--debug` shows it.

`mlcycle [-w WS] data status [PATH...] [--json]` and `data add PATH...
[--name NAME] [--json]` have a fast path that answers before Typer, Rich
and the workspace's config model load (see :mod:`mlcycle.data._fast`), and
`run [--force] [--json]` one without Typer: they run after every edit, so
start-up matters.
The Typer `app` is built on first access for the same reason.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from mlcycle.core import MlcycleError

if TYPE_CHECKING:
    import typer


def _global(
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace", "-w", help="Workspace folder \\[default: $MLCYCLE_WORKSPACE or .]"
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    from mlcycle.cli import _context

    _context.set_options(workspace or Path(os.environ.get("MLCYCLE_WORKSPACE") or "."), debug)


#: Which module registers each top-level command (imported only when needed).
_COMMAND_MODULES = {
    "quickstart": "_loop",
    "init": "_loop",
    "loop": "_loop",
    "serve": "_serve",
    "monitor": "_serve",
    "run": "_run",
    "dag": "_run",
    "lineage": "_run",
    "runs": "_inspect",
    "models": "_inspect",
    "data": "_data",
    "import": "_import",
    "server": "_server",
    "predict": "_predict",
    "build": "_build",
    "labels": "_labels",
}


def _register(app: typer.Typer, module_name: str) -> None:
    import importlib

    module = importlib.import_module(f"mlcycle.cli.{module_name}")
    if module_name == "_inspect":
        app.add_typer(module.runs_app, name="runs")
        app.add_typer(module.models_app, name="models")
    elif module_name == "_data":
        app.add_typer(module.data_app, name="data")
    else:
        module.register(app)


def _command_in(argv: list[str]) -> str | None:
    """The top-level command `argv` names, skipping the global options."""
    i = 0
    while i < len(argv) and argv[i] in ("--workspace", "-w", "--debug"):
        i += 1 if argv[i] == "--debug" else 2
    return argv[i] if i < len(argv) else None


@cache
def build_app(command: str | None = None) -> typer.Typer:
    """The `mlcycle` Typer app (built once per `command`).

    With `command` (a known top-level command), only the module that defines it
    is imported: `mlcycle run` should not pay for the serving or data commands.
    Otherwise (help, unknown commands) every command is registered.
    """
    import typer

    app = typer.Typer(
        name="mlcycle",
        help="The ML lifecycle as one closed loop: data, training, registry, serving, monitoring.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    # _global's annotations are strings (PEP 563) that Typer evaluates in this
    # module's namespace, which imports typer only now.
    globals()["typer"] = typer
    app.callback()(_global)
    wanted = _COMMAND_MODULES.get(command or "")
    for module_name in [wanted] if wanted else dict.fromkeys(_COMMAND_MODULES.values()):
        _register(app, module_name)
    return app


def __getattr__(name: str) -> Any:
    if name == "app":
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _add_args(rest: list[str]) -> tuple[list[str], str | None, bool] | None:
    """`data add`'s `PATH... [--name NAME] [--json]`; None for anything else (Typer answers)."""
    paths: list[str] = []
    name: str | None = None
    as_json = False
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--json":
            as_json = True
        elif arg == "--name" and name is None and i + 1 < len(rest):
            name, i = rest[i + 1], i + 1
        elif arg.startswith("--name=") and name is None:
            name = arg.removeprefix("--name=")
        elif not arg or arg.startswith("-"):
            return None  # --help, unknown options, odd paths
        else:
            paths.append(arg)
        i += 1
    if not paths or (name is not None and name.startswith("-")):
        return None
    return paths, name, as_json


def _fast(argv: list[str]) -> int | None:
    """Answer `[-w WS] data status|add ...` and `[-w WS] run` directly; None for anything else.

    `data status [PATH...] [--json]` and `data add PATH... [--name NAME] [--json]`
    skip Typer, Rich and the config model (see :mod:`mlcycle.data._fast`);
    they return None, printing nothing, whenever the full path must answer.
    `run [--force] [--json]` skips Typer (see :mod:`mlcycle.cli._run_command`).
    """
    workspace = os.environ.get("MLCYCLE_WORKSPACE") or "."
    if len(argv) >= 2 and argv[0] in ("--workspace", "-w"):
        workspace, argv = argv[1], argv[2:]
    if argv[:1] == ["run"]:
        from mlcycle.cli import _context
        from mlcycle.cli._run_command import fast_run

        _context.set_options(Path(workspace), False)
        return fast_run(argv[1:])
    if argv[:2] == ["data", "add"]:
        parsed = _add_args(argv[2:])
        if parsed is None:
            return None
        from mlcycle.cli._data_add import fast_add

        return fast_add(Path(workspace), *parsed)
    if argv[:2] != ["data", "status"]:
        return None
    rest = argv[2:]
    paths = [a for a in rest if a != "--json"]
    if any(a.startswith("-") for a in paths):
        return None  # --help and friends: Typer answers
    from mlcycle.data._fast import fast_status

    return fast_status(Path(workspace), paths, "--json" in rest)


def _debug() -> bool:
    from mlcycle.cli import _context

    return _context.debug()


def main() -> None:
    """Run the CLI; map mlcycle errors to one line on stderr and exit codes 1/2."""
    try:
        code = _fast(sys.argv[1:])
        if code is not None:
            sys.exit(code)
        build_app(_command_in(sys.argv[1:]))()
    except MlcycleError as err:
        if _debug():
            raise
        print(f"Error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        sys.exit(130)
