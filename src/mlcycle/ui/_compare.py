"""The compare page: overlaid metric curves, parallel coordinates and a diff of 2-20 runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlcycle.core import InputError
from mlcycle.store import Workspace
from mlcycle.tracking import RunRecord, get_run, metric_keys
from mlcycle.ui._charts import PALETTE, ChartSpec, colour, compare_charts
from mlcycle.ui._parallel import parallel_svg

MAX_RUNS = 20


@dataclass(frozen=True)
class DiffRow:
    """One key of the diff table: each run's value (None if missing), and whether they differ."""

    key: str
    values: list[Any]
    differs: bool


@dataclass(frozen=True)
class Comparison:
    """Everything `compare.html` shows."""

    runs: list[RunRecord]
    labels: list[str]
    metric: str
    metrics: list[str]
    charts: list[ChartSpec]
    parallel: str
    params: list[DiffRow]
    metric_rows: list[DiffRow]


def diff_rows(dicts: Sequence[dict[str, Any]]) -> list[DiffRow]:
    """One row per key of any of `dicts`, sorted; `differs` when the values are not all equal.

    NaN equals NaN here (the same value was logged).
    """
    keys = sorted({k for d in dicts for k in d})
    rows = []
    for key in keys:
        values = [d.get(key) for d in dicts]
        distinct = {repr(v) for v in values}  # repr: nan == nan, 1 != "1"
        rows.append(DiffRow(key, values, len(distinct) > 1))
    return rows


def labels_of(runs: Sequence[RunRecord]) -> list[str]:
    """Names that tell the runs apart: the run name, plus the short id when names repeat."""
    names = [r.name for r in runs]
    return [f"{r.name} ({r.id[:8]})" if names.count(r.name) > 1 else r.name for r in runs]


def _run_colours(n: int) -> list[str]:
    """The run colours of the page, or none when runs outnumber the palette."""
    return [colour(i) for i in range(n)] if n <= len(PALETTE) else []


def compare(ws: Workspace, run_ids: Sequence[str], metric: str = "") -> Comparison:
    """Load runs `run_ids` (2 to 20, duplicates dropped) and build the comparison.

    `metric` is the parallel-coordinates metric (default: the first metric
    every run has, else the first of any).

    Raises:
        InputError: if fewer than 2 or more than 20 runs are given.
        RunNotFound: if a run does not exist.
    """
    ids = list(dict.fromkeys(i for i in run_ids if i))
    if not 2 <= len(ids) <= MAX_RUNS:
        raise InputError(
            f"Compare needs 2 to {MAX_RUNS} runs; got {len(ids)}. "
            "Tick the runs to compare in the runs table."
        )
    runs = [get_run(ws, i) for i in ids]
    labels = labels_of(runs)
    keys = sorted({k for r in runs for k in metric_keys(ws, r.id)})
    common = [k for k in keys if all(k in r.metrics for r in runs)]
    chosen = metric if metric in keys else (common or keys or [""])[0]
    return Comparison(
        runs,
        labels,
        chosen,
        keys,
        compare_charts(ws, [(r.id, label) for r, label in zip(runs, labels, strict=True)], keys),
        parallel_svg(runs, labels, chosen, _run_colours(len(runs))),
        diff_rows([r.params for r in runs]),
        diff_rows([r.metrics for r in runs]),
    )
