"""Windows of the inference log joined with late labels, and what each one says.

The time axis is the data's time column when the logged inputs carry it
(event time: a replay of 2012 lands in 2012), else the time of logging.
The log is read from its Parquet parts; rows of the old database table
(before Parquet) are not windowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlcycle.core import Config, DataConfig
from mlcycle.models import score
from mlcycle.monitoring import detect_drift
from mlcycle.serving import read_labels, scan_inference_log
from mlcycle.store import Workspace

EVENT_TIME = "_event_time"
_EMPTY: dict[str, list[Any]] = {
    "prediction_id": [],
    "timestamp": [],
    "model_version": [],
    "prediction": [],
}


def read_model_log(ws: Workspace, model: str, time_column: str | None) -> pd.DataFrame:
    """All logged rows `model` answered (shadow rows left out) with their labels,
    sorted by event time.

    Columns: the inputs, `prediction_id`, `model_version`, `prediction`,
    `proba` (class probabilities or None), `label` (None until ground truth
    arrives) and `_event_time` (naive UTC).
    """
    parts = list(scan_inference_log(ws, model_name=model))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(_EMPTY)
    if "role" in frame:
        frame = frame[frame["role"] != "shadow"].reset_index(drop=True)
    if "proba" not in frame:
        frame["proba"] = None
    labels = read_labels(ws, frame["prediction_id"].tolist())
    frame["label"] = frame["prediction_id"].map(labels.get)
    if time_column is not None and time_column in frame:
        frame[EVENT_TIME] = pd.to_datetime(frame[time_column], errors="coerce")
    else:
        frame[EVENT_TIME] = pd.to_datetime(frame["timestamp"], unit="s")
    return frame.sort_values(EVENT_TIME, kind="stable").reset_index(drop=True)


def first_window_start(log: pd.DataFrame, size: str) -> pd.Timestamp | None:
    """The start of the window holding the earliest logged row (None for an empty log)."""
    times = log[EVENT_TIME].dropna()
    if times.empty:
        return None
    offset = pd.tseries.frequencies.to_offset(size)
    start: pd.Timestamp = offset.rollback(times.iloc[0].normalize())
    return start


def window_end(start: pd.Timestamp, size: str) -> pd.Timestamp:
    """The (exclusive) end of the window that starts at `start`."""
    end: pd.Timestamp = start + pd.tseries.frequencies.to_offset(size)
    return end


def rows_between(log: pd.DataFrame, start: pd.Timestamp | None, end: pd.Timestamp) -> pd.DataFrame:
    """The rows with event time in [start, end) (from the beginning when `start` is None)."""
    times = log[EVENT_TIME]
    keep = times < end if start is None else (times >= start) & (times < end)
    return log[keep].reset_index(drop=True)


@dataclass(frozen=True)
class WindowCheck:
    """What one window of the log says: rows, label coverage, live metric, drift.

    `live` is the primary metric over the labeled rows (None with too few);
    `drift_share` the share of drifted features (None with too few rows);
    `missing` the features absent (or all null) in the window; `note` says
    why a number is missing ("not enough data: ...").
    """

    start: str
    end: str
    rows: int
    labeled: int
    metric: str
    live: float | None
    drift_share: float | None
    drifted: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    versions: dict[str, int] = field(default_factory=dict)
    note: str = ""

    @property
    def coverage(self) -> float:
        """Labeled rows / rows (0.0 for an empty window)."""
        return self.labeled / self.rows if self.rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (the evidence of a decision)."""
        return {**self.__dict__, "coverage": self.coverage}


def labeled_xy(rows: pd.DataFrame, data: DataConfig) -> tuple[pd.DataFrame, pd.Series]:
    """The labeled rows' features (n_labeled, n_features) and targets (n_labeled,)."""
    labeled = rows[rows["label"].notna()]
    present = [c for c in data.features if c in labeled]
    return labeled[present].reset_index(drop=True), labeled["label"].reset_index(drop=True)


def _missing(rows: pd.DataFrame, data: DataConfig) -> tuple[str, ...]:
    return tuple(c for c in data.features if c not in rows or rows[c].isna().all())


def _live(rows: pd.DataFrame, config: Config, metric: str, min_rows: int) -> float | None:
    labeled = rows[rows["label"].notna()]
    if len(labeled) < min_rows:
        return None
    data = config.require_data()
    y_true = labeled["label"].to_numpy()
    y_pred = labeled["prediction"].to_numpy()
    if data.task == "regression":
        return float(score(data.task, y_true.astype(float), y_pred.astype(float))[metric])
    proba = np.array(labeled["proba"].tolist()) if labeled["proba"].notna().all() else None
    return float(score(data.task, y_true, y_pred, proba)[metric])


def check_window(
    rows: pd.DataFrame,
    reference: pd.DataFrame,
    config: Config,
    bounds: tuple[str, str],
    *,
    metric: str,
    min_rows: int,
) -> WindowCheck:
    """Score one window's `rows` against the production model's `reference` features.

    Never raises on thin data: an empty window, missing features or
    constant columns give None numbers and a `note` instead.
    """
    data = config.require_data()
    missing = _missing(rows, data)
    labeled = int(rows["label"].notna().sum()) if len(rows) else 0
    versions = {str(v): int(n) for v, n in rows["model_version"].value_counts().items()}
    if len(rows) < min_rows:
        note = f"not enough data: {len(rows)} rows < {min_rows}"
        return WindowCheck(
            *bounds, len(rows), labeled, metric, None, None, (), missing, versions, note
        )
    drift = detect_drift(
        reference,
        rows,
        numeric=[c for c in data.numeric if c not in missing],
        categorical=[c for c in data.categorical if c not in missing],
        config=config.drift,
    )
    live = _live(rows, config, metric, min_rows)
    note = "" if live is not None else f"not enough data: {labeled} labeled rows < {min_rows}"
    return WindowCheck(
        *bounds,
        len(rows),
        labeled,
        metric,
        live,
        float(drift.share),
        tuple(drift.drifted_features),
        missing,
        versions,
        note,
    )


def model_metric(model: Any, x: pd.DataFrame, y: pd.Series, config: Config, metric: str) -> float:
    """`metric` of `model` (a loaded package) on features `x` and targets `y`."""
    task = config.require_data().task
    truth = y.to_numpy().astype(float) if task == "regression" else y.to_numpy()
    proba = model.predict_proba(x) if task == "classification" else None
    classes = model.meta.signature.classes if task == "classification" else None
    return float(score(task, truth, np.asarray(model.predict(x)), proba, classes)[metric])
