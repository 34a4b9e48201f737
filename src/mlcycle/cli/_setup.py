"""Workspace set-up for `init` and `quickstart`, and the replay run behind `loop`."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from mlcycle.cli._output import console, err_console
from mlcycle.core import (
    CONFIG_FILE,
    Config,
    DataConfig,
    DataError,
    SplitConfig,
    Task,
    atomic_write_text,
    dump_config,
    load_config,
    parse_config,
)

MAX_CLASSES = 20


def init_empty(root: Path) -> None:
    """Create the workspace folder, `.mlcycle/` and a minimal `mlcycle.yaml` if missing."""
    from mlcycle.store import Workspace

    root.mkdir(parents=True, exist_ok=True)
    if not (root / CONFIG_FILE).exists():
        atomic_write_text(root / CONFIG_FILE, "# mlcycle workspace: see 'mlcycle init --help'\n")
    with Workspace(root, load_config(root)) as ws:
        ws.db  # noqa: B018 - creates and migrates the metadata database now


def has_data_config(root: Path) -> bool:
    """Whether the workspace's `mlcycle.yaml` already has a `data` section."""
    return (root / CONFIG_FILE).exists() and load_config(root).data is not None


def guess_task(target: pd.Series) -> Task:
    """Classification for text, boolean or integer targets with few values; else regression."""
    numeric = pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target)
    few = target.nunique() <= MAX_CLASSES and pd.api.types.is_integer_dtype(target)
    return "regression" if numeric and not few else "classification"


def _window_for(times: pd.Series, train_fraction: float) -> str:
    span = (times.max() - times.min()).days * (1 - train_fraction)
    return "MS" if span > 300 else "W" if span > 60 else "D"


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path.resolve())


def _check_columns(frame: pd.DataFrame, data: Path, target: str, time_column: str | None) -> None:
    for role, col in (("target", target), ("time column", time_column)):
        if col is not None and col not in frame.columns:
            names = ", ".join(map(str, frame.columns[:20]))
            raise DataError(
                f"{role.capitalize()} column '{col}' is not in {data}; its columns are: {names}"
            )


def init_config(
    root: Path,
    data: Path,
    target: str,
    *,
    time_column: str | None = None,
    task: Task | None = None,
    train_end: str | None = None,
    name: str | None = None,
    quiet: bool = False,
) -> Config:
    """Write `mlcycle.yaml` for `data`: proposed features, split and windows.

    Raises:
        DataError: if the file is unreadable or the target/time column is missing.
    """
    from mlcycle.data import propose_features, read_table
    from mlcycle.pipeline import in_time_order

    frame = read_table(data)
    _check_columns(frame, data, target, time_column)
    frame = in_time_order(frame, time_column)
    proposal = propose_features(frame, target, time_column=time_column)
    chosen_task = task or guess_task(frame[target])
    split = SplitConfig(train_end=train_end)
    if time_column:
        window = _window_for(pd.to_datetime(frame[time_column]), split.train_fraction)
        split = SplitConfig(train_end=train_end, window=window)
    config = Config(
        model_name=name or Path(data).stem,
        experiment=name or Path(data).stem,
        data=DataConfig(
            path=_relative(data, root),
            target=target,
            task=chosen_task,
            time_column=time_column,
            numeric=proposal.numeric,
            categorical=proposal.categorical,
        ),
        split=split,
    )
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(root / CONFIG_FILE, dump_config(config))
    if not quiet:
        _print_proposal(root, config, proposal)
    return config


def _print_proposal(root: Path, config: Config, proposal: Any) -> None:
    data = config.require_data()
    console.print(f"Wrote {root / CONFIG_FILE}: {data.task} of '{data.target}'")
    console.print(f"  numeric features:     {', '.join(data.numeric) or '-'}")
    console.print(f"  categorical features: {', '.join(data.categorical) or '-'}")
    for col, reason in proposal.excluded.items():
        if col != data.target:
            console.print(f"  left out: {col} ({reason})")
    for warning in proposal.warnings:
        err_console.print(f"[yellow]Warning:[/] {warning}")
    console.print("Next: mlcycle loop --replay")


def run_loop(
    root: Path,
    *,
    max_windows: int | None,
    trials: int | None,
    observer_factory: Callable[[str], Any],
) -> tuple[Any, Path, Path]:
    """Snapshot and validate the data, run the replay loop and write its report.

    Returns:
        (ReplayResult, HTML report path, JSON path).
    """
    from mlcycle.cli._context import log_to
    from mlcycle.cli._run import StepProgress
    from mlcycle.data import get_dataset_version, read_table, validate
    from mlcycle.loop import run_replay, write_loop_report
    from mlcycle.pipeline import dataset_name, primary_metric, run_training
    from mlcycle.store import Workspace

    log_to(root / ".mlcycle" / "logs" / "mlcycle.log")
    config = load_config(root)
    if trials is not None:
        automl = {**config.automl.model_dump(), "trials": trials}
        config = parse_config({**config.model_dump(), "automl": automl})
    data = config.require_data()
    path = Path(data.path) if os.path.isabs(data.path) else root / data.path
    with Workspace(root, config) as ws:
        observer = observer_factory(primary_metric(config))
        observer.stage(
            f"Training pipeline (ingest, validate, features, AutoML with "
            f"{config.automl.trials} trials, evaluate, register) on {data.path}"
        )
        trained = run_training(ws, config, path, observer=StepProgress())
        frame = read_table(path)
        dataset = get_dataset_version(ws, dataset_name(ws, path))
        observer.stage(
            f"Dataset {dataset.ref}: {dataset.rows:,} rows, BLAKE3 {dataset.object_id[:12]}; "
            f"production is v{trained.version.version}"
        )
        for check in validate(frame, data).warnings:
            err_console.print(f"[yellow]Warning:[/] column '{check.column}': {check.detail}")
        result = run_replay(
            ws, config, frame, dataset, observer=observer, max_windows=max_windows, trained=trained
        )
        html, json_path = write_loop_report(
            result, ws.reports_dir, title=f"mlcycle loop: {config.model_name}"
        )
    return result, html, json_path
