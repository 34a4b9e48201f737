"""`mlcycle serve` and `mlcycle monitor`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mlcycle.cli import _context
from mlcycle.cli._output import console, print_json, table


def register(app: typer.Typer) -> None:
    """Add the commands of this module to `app`."""
    app.command("serve")(serve)
    app.command("monitor")(monitor)


def serve(
    model: Annotated[
        str | None, typer.Argument(help="MODEL@ALIAS (followed) or MODEL@VERSION.")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 0,
    port_file: Annotated[
        Path | None, typer.Option(help="Write the bound port to this file.")
    ] = None,
    env: Annotated[
        str | None, typer.Option(help="Serve this deployment of serving.deployments.")
    ] = None,
    canary: Annotated[
        str | None, typer.Option(help="Split off a share of requests: ALIAS_OR_VERSION=PCT%.")
    ] = None,
    ab: Annotated[
        str | None, typer.Option(help="Sticky A/B split: A=PCT%,B=PCT% (the rest: the primary).")
    ] = None,
    sticky_header: Annotated[
        str | None, typer.Option(help="Header whose value picks the A/B arm [X-Routing-Key].")
    ] = None,
    shadow: Annotated[
        str | None, typer.Option(help="Mirror every request to ALIAS_OR_VERSION (logged only).")
    ] = None,
    grpc_port: Annotated[
        int | None,
        typer.Option(help="Also serve OIP over gRPC on this port (0: free; see PORT_FILE.grpc)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes sharing the port [serving.workers].")
    ] = None,
    max_batch_size: Annotated[
        int | None, typer.Option(help="Rows per merged model call; 1 = no batching.")
    ] = None,
    max_latency_ms: Annotated[
        float | None, typer.Option(help="Longest wait for a batch to fill, in ms.")
    ] = None,
    log_flush_seconds: Annotated[
        float | None, typer.Option(help="Inference log flush interval; 0 = before each reply.")
    ] = None,
) -> None:
    """Serve a registered model over HTTP (Open Inference Protocol v2 and /predict)."""
    from mlcycle.serving import serve as _serve

    ws = _context.open_workspace()
    options = {"canary": canary, "ab": ab, "sticky_header": sticky_header, "shadow": shadow}
    deployment = _deployment(ws, model, env, {k: v for k, v in options.items() if v is not None})
    _serve(
        ws,
        model or f"{deployment.model}@{deployment.alias}",
        host=host,
        port=port,
        port_file=port_file,
        poll_seconds=ws.config.serving.poll_seconds,
        deployment=deployment,
        on_rollback=_alert_on_rollback(ws),
        grpc_port=grpc_port,
        config=_serving_config(ws, workers, max_batch_size, max_latency_ms, log_flush_seconds),
    )


def _serving_config(
    ws: Any, workers: Any, max_batch_size: Any, max_latency_ms: Any, log_flush_seconds: Any
) -> Any:
    """The workspace's `serving` section with the options given on the command line."""
    from mlcycle.core import ServingConfig

    given = {
        "workers": workers,
        "max_batch_size": max_batch_size,
        "max_latency_ms": max_latency_ms,
        "log_flush_seconds": log_flush_seconds,
    }
    values = {**ws.config.serving.model_dump(), **{k: v for k, v in given.items() if v is not None}}
    return ServingConfig.model_validate(values)


def _deployment(ws: Any, model: str | None, env: str | None, options: dict[str, str]) -> Any:
    """The deployment to serve: `--env`'s from mlcycle.yaml, then MODEL@ALIAS, then options."""
    from mlcycle.core import ConfigError, deployment_config
    from mlcycle.serving import parse_model_ref

    known = ws.config.serving.deployments
    if env is not None and env not in known:
        names = ", ".join(sorted(known)) or "none"
        raise ConfigError(f"--env {env!r}: mlcycle.yaml has no such deployment (known: {names})")
    if env is None and model is None:
        raise ConfigError("mlcycle serve needs MODEL@ALIAS or --env NAME")
    values = known[env].model_dump(exclude_unset=True) if env is not None else {}
    if model is not None:
        name, alias, version = parse_model_ref(model)
        values.update(model=name, alias=alias or str(version))
    return deployment_config("mlcycle serve", **{**values, **options})


def _alert_on_rollback(ws: Any) -> Any:
    """A callback raising a `rollback` alert (log, database, webhook) for each rollback."""
    from mlcycle.monitoring import Alert, raise_alert

    def on_rollback(event: Any) -> None:
        message = (
            f"{event.alias} moved back from version {event.bad_version} to "
            f"{event.restored_version}: {event.reason}"
        )
        alert = Alert(event.model_name, "rollback", message, event.to_dict())
        raise_alert(ws, alert, webhook_url=ws.config.alerts.webhook_url)

    return on_rollback


def _load_frame(ws: Any, ref: str) -> Any:
    """A CSV/Parquet path, or a dataset version `NAME@vN`."""
    from mlcycle.data import load_dataset_version, read_table

    if Path(ref).exists() or ref.lower().endswith((".csv", ".parquet", ".pq")):
        return read_table(ref)
    return load_dataset_version(ws, ref)


def _columns(ws: Any, reference: Any, current: Any) -> tuple[list[str], list[str]]:
    """The features to test: from `mlcycle.yaml` if it has them, else inferred."""
    from mlcycle.data import column_kind

    data = ws.config.data
    if data is not None:
        return list(data.numeric), list(data.categorical)
    shared = [c for c in reference.columns if c in current.columns]
    kinds = {c: column_kind(reference[c]) for c in shared}
    return [c for c in shared if kinds[c] == "numeric"], [
        c for c in shared if kinds[c] == "categorical"
    ]


def monitor(
    reference: Annotated[
        str, typer.Option(help="Reference data: CSV/Parquet file or dataset NAME@vN.")
    ],
    current: Annotated[
        str, typer.Option(help="Current data: CSV/Parquet file or dataset NAME@vN.")
    ],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the JSON summary here.")
    ] = None,
    report: Annotated[Path | None, typer.Option(help="Write the HTML report here.")] = None,
) -> None:
    """Compare current data with reference data: per-feature drift tests and the drift share."""
    from mlcycle.monitoring import detect_drift, render_drift_report, write_json

    ws = _context.open_workspace()
    ref, cur = _load_frame(ws, reference), _load_frame(ws, current)
    numeric, categorical = _columns(ws, ref, cur)
    result = detect_drift(
        ref, cur, numeric=numeric, categorical=categorical, config=ws.config.drift
    )
    if json_out is not None:
        write_json(result.to_dict(), json_out)
    if report is not None:
        render_drift_report(result, ref, cur, title=f"Drift: {current} vs {reference}", path=report)
    table(
        f"Drift share {result.share:.2f} ({'drift' if result.drifted else 'no drift'})",
        ["feature", "kind", "test", "statistic", "p-value", "PSI", "drifted"],
        [
            (f.feature, f.kind, f.test, f.statistic, f.p_value, f.psi, "yes" if f.drifted else "no")
            for f in result.features
        ],
    )
    for label, path in (("JSON", json_out), ("Report", report)):
        if path is not None:
            console.print(f"{label}: {path}")
    if json_out is None and report is None and not console.is_terminal:
        print_json(result.to_dict())
