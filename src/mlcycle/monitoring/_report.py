"""Monitoring reports: one :class:`Report` saved as self-contained HTML and as its JSON twin.

The HTML is rendered from :meth:`Report.to_dict`, the same data the JSON
file holds, so people and machines always read the same numbers. Charts
are inline SVG (see :mod:`mlcycle.monitoring._charts`): the page has no
script and no external URL, so it opens offline and in e-mail archives.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlcycle.core import atomic_write_text, now
from mlcycle.monitoring._jsonsafe import json_safe
from mlcycle.monitoring._stats import category_counts

MAX_DISTRIBUTION_PLOTS = 12
HISTOGRAM_BINS = 30
MAX_CATEGORIES = 30


@dataclass(frozen=True)
class Distribution:
    """Reference vs current distribution of one feature, ready to chart (no raw rows).

    A streaming monitor that keeps only bin counts builds these with
    :meth:`from_counts`; :meth:`from_series` bins raw values.

    Attributes:
        feature: column name.
        kind: ``"numeric"`` (histogram bins) or ``"categorical"``.
        labels: one per bin (its left edge, formatted) or category.
        reference: share of reference rows per label, each in [0, 1].
        current: share of current rows per label.
        edges: numeric bin edges, ``len(labels) + 1`` of them; empty for categories.
    """

    feature: str
    kind: Literal["numeric", "categorical"]
    labels: tuple[str, ...]
    reference: tuple[float, ...]
    current: tuple[float, ...]
    edges: tuple[float, ...] = ()

    @classmethod
    def from_counts(
        cls,
        feature: str,
        kind: Literal["numeric", "categorical"],
        labels: Sequence[str],
        reference: Iterable[float],
        current: Iterable[float],
        edges: Iterable[float] = (),
    ) -> Distribution:
        """Build from counts per label; shares are counts / total (0 if a side is empty)."""
        ref, cur = np.fromiter(reference, dtype=float), np.fromiter(current, dtype=float)
        ref_share = ref / ref.sum() if ref.sum() > 0 else ref * 0.0
        cur_share = cur / cur.sum() if cur.sum() > 0 else cur * 0.0
        return cls(
            feature,
            kind,
            tuple(str(x) for x in labels),
            tuple(float(x) for x in ref_share),
            tuple(float(x) for x in cur_share),
            tuple(float(e) for e in edges),
        )

    @classmethod
    def from_series(
        cls,
        feature: str,
        kind: Literal["numeric", "categorical"],
        reference: pd.Series,
        current: pd.Series,
    ) -> Distribution:
        """Bin raw values: 30 shared bins over both windows, or the 30 most frequent categories."""
        if kind == "categorical":
            counts = category_counts(reference.dropna(), current.dropna())
            counts = counts.loc[
                counts.sum(axis=1).sort_values(ascending=False).index[:MAX_CATEGORIES]
            ]
            labels = [str(i) for i in counts.index]
            return cls.from_counts(feature, kind, labels, counts["reference"], counts["current"])
        ref, cur = _finite(reference), _finite(current)
        edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins=HISTOGRAM_BINS)
        labels = [f"{e:.3g}" for e in edges[:-1]]
        ref_counts, cur_counts = np.histogram(ref, edges)[0], np.histogram(cur, edges)[0]
        return cls.from_counts(feature, kind, labels, ref_counts, cur_counts, edges)


def _finite(values: pd.Series) -> np.ndarray:
    arr = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    finite: np.ndarray = arr[np.isfinite(arr)]
    return finite


@dataclass(frozen=True)
class WindowSummary:
    """What monitoring saw in one time window (a point of the over-time charts).

    Attributes:
        window: label, e.g. ``"2012-03"``; windows are charted in the order given.
        rows: rows (requests) in the window.
        drift_share: drifted features / tested features, in [0, 1].
        drifted_features: names of the drifted features.
        feature_scores: drift score per feature (e.g. PSI), for the heatmap.
        live_metrics: metric name -> value on the labelled rows (None: no labels yet).
        label_coverage: share of rows whose ground truth has arrived, in [0, 1].
        outlier_share: share of rows flagged as outliers, in [0, 1].
        version: model version serving the window.
        action: what the loop did (``"retrain"``, ``"promoted v3"`` ...).
    """

    window: str
    rows: int | None = None
    drift_share: float | None = None
    drifted_features: tuple[str, ...] = ()
    feature_scores: Mapping[str, float | None] = field(default_factory=dict)
    live_metrics: Mapping[str, float | None] = field(default_factory=dict)
    label_coverage: float | None = None
    outlier_share: float | None = None
    version: int | None = None
    action: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (NaN becomes None)."""
        out: dict[str, Any] = json_safe(asdict(self))
        return out


def _plain(value: Any) -> Any:
    """A result object as a plain dict (via its ``to_dict()``), JSON-safe."""
    return json_safe(value)


def _quality_rows(quality: Any) -> list[dict[str, Any]]:
    """Accept a list of row dicts, a result with ``to_dict()``, or {check: value}."""
    data = _plain(quality)
    if isinstance(data, list):
        return [r if isinstance(r, dict) else {"value": r} for r in data]
    if not isinstance(data, dict):
        return [{"value": data}]
    lists = [
        v for v in data.values() if isinstance(v, list) and all(isinstance(r, dict) for r in v)
    ]
    if lists:
        return list(lists[0])
    return [{"check": k, **(v if isinstance(v, dict) else {"value": v})} for k, v in data.items()]


@dataclass(frozen=True)
class Report:
    """A monitoring report: drift now, distributions, and the windows over time.

    Every section is optional; the HTML shows the sections that have data.
    Build one with :meth:`from_drift` or directly; the drift and quality
    inputs may be any object with a ``to_dict()`` (e.g. :class:`DriftResult`).

    Attributes:
        title: page title.
        model: the registered model monitored, if any.
        drift: the current window's drift result as a dict (``DriftResult.to_dict()``).
        distributions: reference vs current shares of (drifted) features.
        windows: one :class:`WindowSummary` per window, in time order.
        quality: data-quality check rows (dicts with the same keys).
        created: seconds since the epoch (UTC).
    """

    title: str
    model: str | None = None
    drift: Mapping[str, Any] | None = None
    distributions: tuple[Distribution, ...] = ()
    windows: tuple[WindowSummary, ...] = ()
    quality: tuple[Mapping[str, Any], ...] = ()
    created: float = field(default_factory=now)

    @classmethod
    def from_drift(
        cls,
        drift: Any,
        reference: pd.DataFrame | None = None,
        current: pd.DataFrame | None = None,
        *,
        title: str,
        model: str | None = None,
        windows: Sequence[WindowSummary] = (),
        quality: Any = None,
        distributions: Sequence[Distribution] = (),
    ) -> Report:
        """Build a report from a drift result and, if given, the frames it compared.

        Args:
            drift: a :class:`DriftResult` or its ``to_dict()``.
            reference: reference frame; with `current`, the first 12 drifted
                features are binned into :class:`Distribution` objects.
            current: current frame.
            title: page title.
            model: the model monitored.
            windows: the over-time series.
            quality: data-quality results (rows, a dict, or an object with ``to_dict()``).
            distributions: precomputed distributions (used when no frames are given).

        Returns:
            The report (nothing is written).
        """
        data = _plain(drift)
        if reference is not None and current is not None:
            drifted = [f for f in data.get("features", []) if f.get("drifted")]
            distributions = [
                Distribution.from_series(
                    f["feature"], _kind(f), reference[f["feature"]], current[f["feature"]]
                )
                for f in drifted[:MAX_DISTRIBUTION_PLOTS]
            ]
        rows = tuple(_quality_rows(quality)) if quality is not None else ()
        return cls(title, model, data, tuple(distributions), tuple(windows), rows)

    def to_dict(self) -> dict[str, Any]:
        """Return the report's data as a JSON-safe dict (the JSON twin of the HTML)."""
        out: dict[str, Any] = json_safe(
            {
                "title": self.title,
                "model": self.model,
                "created": self.created,
                "drift": self.drift,
                "distributions": [asdict(d) for d in self.distributions],
                "windows": [w.to_dict() for w in self.windows],
                "quality": list(self.quality),
            }
        )
        return out

    def to_html(self) -> str:
        """Return the whole HTML page (one file, no external resources)."""
        from mlcycle.monitoring._report_html import render_page

        return render_page(self.to_dict())

    def _repr_html_(self) -> str:
        """Jupyter's rich display: the report inline, with its styles scoped to it."""
        from mlcycle.monitoring._report_html import render_fragment

        return render_fragment(self.to_dict())

    def save_html(self, path: str | Path) -> Path:
        """Write :meth:`to_html` to `path` atomically (parents created); return the path."""
        return atomic_write_text(path, self.to_html())

    def save_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` to `path` as indented JSON, atomically; return the path."""
        return write_json(self.to_dict(), Path(path))


def _kind(feature: Mapping[str, Any]) -> Literal["numeric", "categorical"]:
    return "categorical" if feature.get("kind") == "categorical" else "numeric"


def render_drift_report(
    result: Any,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    title: str,
    path: Path,
) -> Path:
    """Write a self-contained HTML drift report (see :meth:`Report.from_drift`).

    Args:
        result: the output of :func:`detect_drift` on these frames.
        reference: the reference window.
        current: the current window.
        title: page title (escaped).
        path: where to write the ``.html`` file (atomically; parents created).

    Returns:
        `path`.
    """
    return Report.from_drift(result, reference, current, title=title).save_html(path)


def window_from_row(
    row: Mapping[str, Any], metric: str, scores: Mapping[str, float]
) -> WindowSummary:
    """A loop-table row (``window, rows, drift_share, live_metric, baseline_metric,
    version, action``) as a :class:`WindowSummary`; the baseline becomes the
    live metric ``"first model <metric>"``."""
    return WindowSummary(
        window=str(row.get("window", "")),
        rows=row.get("rows"),
        drift_share=row.get("drift_share"),
        drifted_features=tuple(row.get("drifted_features", ())),
        feature_scores=dict(scores),
        live_metrics={
            metric: row.get("live_metric"),
            f"first model {metric}": row.get("baseline_metric"),
        },
        label_coverage=row.get("label_coverage"),
        outlier_share=row.get("outlier_share"),
        version=row.get("version"),
        action=str(row.get("action") or ""),
    )


def render_loop_report(
    windows: Sequence[Mapping[str, Any]],
    drift_by_window: Mapping[str, Mapping[str, float]],
    *,
    title: str,
    path: Path,
    metric: str,
) -> Path:
    """Write a self-contained HTML report of a monitoring loop over time windows.

    Args:
        windows: one mapping per window, in time order, with keys
            ``window`` (str), ``rows`` (int), ``drift_share`` (float),
            ``live_metric`` (float | None), ``baseline_metric`` (float | None),
            ``version`` (int) and ``action`` (str); optional
            ``label_coverage`` and ``outlier_share`` (floats in [0, 1]).
        drift_by_window: window label -> {feature: PSI}.
        title: page title (escaped).
        path: where to write the ``.html`` file (atomically).
        metric: the metric's name, e.g. ``"mae"``, for labels.

    Returns:
        `path`.
    """
    summaries = tuple(
        window_from_row(w, metric, drift_by_window.get(str(w.get("window")), {})) for w in windows
    )
    return Report(title, windows=summaries).save_html(path)


def write_json(data: Any, path: Path) -> Path:
    """Write `data` as indented JSON (2 spaces) atomically; NaN and inf become null.

    Args:
        data: nested dicts, lists and scalars (NumPy scalars allowed).
        path: destination file.

    Returns:
        `path`.
    """
    text = json.dumps(json_safe(data), indent=2, allow_nan=False, ensure_ascii=False)
    return atomic_write_text(path, text + "\n")
