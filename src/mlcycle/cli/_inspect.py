"""`mlcycle runs ...` and `mlcycle models ...`: listings and details, with `--json`.

`runs` commands read the tracking server of `$MLCYCLE_TRACKING_URI` when it
is set, else the workspace.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from mlcycle.cli import _context
from mlcycle.cli._output import console, print_json, table, when

if TYPE_CHECKING:
    from mlcycle.tracking import RunRecord, TrackingStore

runs_app = typer.Typer(help="Tracked runs: list, search, show, compare.", no_args_is_help=True)
models_app = typer.Typer(help="The model registry: list, show, promote.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
#: `metrics.KEY` in a filter or order item: a plain, back-quoted or double-quoted key.
_METRIC_REF = re.compile(r"""\bmetrics\.(?:`([^`]*)`|"([^"]*)"|([A-Za-z0-9_./-]+))""")
_METRIC_COLUMNS = 6


def _tracking() -> TrackingStore:
    """The tracking server of `$MLCYCLE_TRACKING_URI` if set, else the workspace's database."""
    from mlcycle._facade import tracking_uri

    uri = tracking_uri()
    if uri is not None:
        from mlcycle.tracking._http import http_store

        return http_store(uri)
    from mlcycle.tracking import store_for

    return store_for(_context.open_workspace())


def _metric_columns(runs: Sequence[RunRecord], texts: Sequence[str], most: int) -> list[str]:
    """Metric keys to show: those named in `texts` (filter, order items) first, then others."""
    named = [
        next(g for g in m.groups() if g is not None)
        for text in texts
        for m in _METRIC_REF.finditer(text)
    ]
    others = sorted({k for r in runs for k in r.metrics})
    return list(dict.fromkeys([*named, *others]))[: max(most, len(set(named)))]


def _runs_table(title: str, runs: Sequence[RunRecord], keys: Sequence[str]) -> None:
    table(
        title,
        ["id", "experiment", "name", "status", "started", *keys],
        [
            (
                r.id[:8],
                r.experiment,
                r.name,
                r.status,
                when(r.start_time),
                *(r.metrics.get(k) for k in keys),
            )
            for r in runs
        ],
    )


@runs_app.command("list")
def runs_list(
    experiment: Annotated[str | None, typer.Option(help="Only this experiment.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List runs, newest first."""
    runs = _tracking().search_runs(experiment=experiment, limit=limit)
    if as_json:
        print_json([r.to_dict() for r in runs])
        return
    _runs_table(f"{len(runs)} runs", runs, _metric_columns(runs, (), 4))


@runs_app.command("search")
def runs_search(
    query: Annotated[
        str,
        typer.Argument(
            metavar="FILTER",
            help="e.g. \"metrics.mae < 40 and params.model = 'hgb'\" (docs/tracking-search.md).",
        ),
    ] = "",
    order_by: Annotated[
        list[str] | None,
        typer.Option("--order-by", help="FIELD [ASC|DESC], e.g. 'metrics.mae'; repeatable."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many runs (paging).")] = 0,
    experiment: Annotated[
        list[str] | None, typer.Option(help="Only this experiment; repeatable.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Search runs with a filter, in an order (default: newest first), one page at a time."""
    found = _tracking().search_runs(  # one more than asked: is there a next page?
        query,
        experiment=experiment or None,
        order_by=order_by or (),
        limit=limit + 1,
        offset=offset,
    )
    runs, next_offset = found[:limit], (offset + limit if len(found) > limit else None)
    if as_json:
        print_json({"runs": [r.to_dict() for r in runs], "next_offset": next_offset})
        return
    keys = _metric_columns(runs, [query, *(order_by or ())], _METRIC_COLUMNS)
    _runs_table(f"{len(runs)} runs", runs, keys)
    if next_offset is not None:
        console.print(f"More runs: add --offset {next_offset}")


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="Run id (or a unique prefix).")],
    as_json: JsonFlag = False,
) -> None:
    """Show one run: status, times, params, metrics, tags, artifacts, datasets."""
    run = _tracking().get_run(run_id)
    if as_json:
        print_json(run.to_dict())
        return
    console.print(f"[bold]Run {run.id}[/] ({run.name}) in '{run.experiment}': {run.status}")
    console.print(
        f"  started {when(run.start_time)}, ended {when(run.end_time)}, git {run.git_commit or '-'}"
    )
    console.print(f"  datasets: {', '.join(run.datasets) or '-'}")
    for title, values in (
        ("params", run.params),
        ("metrics", run.metrics),
        ("tags", run.tags),
        ("artifacts", run.artifacts),
    ):
        if values:
            table(title, ["key", "value"], sorted(values.items()))


@runs_app.command("compare")
def runs_compare(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids.")],
    as_json: JsonFlag = False,
) -> None:
    """Compare runs side by side: params and metrics."""
    store = _tracking()
    runs = [store.get_run(r) for r in run_ids]
    if as_json:
        print_json([r.to_dict() for r in runs])
        return
    params = sorted({k for r in runs for k in r.params})
    metrics = sorted({k for r in runs for k in r.metrics})
    rows: list[tuple[object, ...]] = [
        (f"param {k}", *(r.params.get(k) for r in runs)) for k in params
    ]
    rows += [(f"metric {k}", *(r.metrics.get(k) for r in runs)) for k in metrics]
    table("Compare runs", ["", *(r.id[:8] for r in runs)], rows)


@models_app.command("list")
def models_list(as_json: JsonFlag = False) -> None:
    """List registered models with their latest version and aliases."""
    from mlcycle.registry import list_models

    models = list_models(_context.open_workspace())
    if as_json:
        print_json(models)
        return
    table(
        f"{len(models)} models",
        ["name", "latest version", "aliases"],
        [
            (
                m["name"],
                m["latest_version"],
                ", ".join(f"{a}=v{v}" for a, v in m["aliases"].items()),
            )
            for m in models
        ],
    )


@models_app.command("show")
def models_show(
    model: Annotated[str, typer.Argument(help="Model name.")], as_json: JsonFlag = False
) -> None:
    """Show a model's versions, aliases and its audit log."""
    from mlcycle.core import ModelNotFound
    from mlcycle.registry import audit_log, list_model_versions

    ws = _context.open_workspace()
    versions = list_model_versions(ws, model)
    if not versions:
        raise ModelNotFound(f"Model '{model}' does not exist")
    events = audit_log(ws, model)
    if as_json:
        print_json(
            {"versions": [v.to_dict() for v in versions], "audit": [e.to_dict() for e in events]}
        )
        return
    metric_keys = sorted({k for v in versions for k in v.metrics})[:3]
    table(
        f"Model {model}",
        ["version", "aliases", "created", "run", *metric_keys],
        [
            (
                f"v{v.version}",
                ", ".join(v.aliases),
                when(v.created_at),
                (v.run_id or "-")[:8],
                *(v.metrics.get(k) for k in metric_keys),
            )
            for v in versions
        ],
    )
    table(
        "Audit log",
        ["when", "who", "action", "alias", "from", "to", "why"],
        [
            (when(e.timestamp), e.actor, e.action, e.alias, e.from_version, e.to_version, e.reason)
            for e in events
        ],
    )


@models_app.command("promote")
def models_promote(
    model: Annotated[str, typer.Argument(help="MODEL@VERSION to promote, e.g. bike-demand@3.")],
    alias: Annotated[str, typer.Option(help="Alias to move.")] = "production",
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")] = "promoted by hand",
) -> None:
    """Point an alias at a model version (recorded in the audit log)."""
    from mlcycle.core import InputError
    from mlcycle.registry import set_alias

    name, _, version = model.partition("@")
    if not version.isdigit():
        raise InputError(
            f"'{model}' must be MODEL@VERSION with a version number, e.g. {name or 'model'}@2"
        )
    event = set_alias(_context.open_workspace(), name, alias, int(version), reason=reason)
    console.print(f"{name}@{alias}: v{event.from_version or '-'} -> v{event.to_version}")
