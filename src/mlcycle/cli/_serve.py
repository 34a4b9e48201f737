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
    model: Annotated[str, typer.Argument(help="MODEL@ALIAS (followed) or MODEL@VERSION.")],
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 0,
    port_file: Annotated[
        Path | None, typer.Option(help="Write the bound port to this file.")
    ] = None,
) -> None:
    """Serve a registered model over HTTP (Open Inference Protocol v2 and /predict)."""
    from mlcycle.serving import serve as _serve

    ws = _context.open_workspace()
    _serve(
        ws,
        model,
        host=host,
        port=port,
        port_file=port_file,
        poll_seconds=ws.config.serving.poll_seconds,
    )


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
