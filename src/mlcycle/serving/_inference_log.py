"""The inference log: every prediction with request id and model version; labels join later.

Predictions go to append-only Parquet parts under `.mlcycle/inference_log/`
(see `_log_store` for the layout and the atomic write). The model server
buffers them and flushes every `serving.log_flush_seconds` (and at
shutdown), so a crash loses no prediction acknowledged longer ago than
that; with `log_flush_seconds: 0` every batch is on disk before its reply
(what :func:`~mlcycle.serving.start_server_process` uses, because the
loop reads the log right after its requests are answered).

Prediction ids are `<request_id>-<row>`. Ground truth joins by that id
and lives in the metadata database (table `labels`), as do the rows of
the old database log (table `inference_log`, before Parquet), which
:func:`read_inference_log` and :func:`log_labels` still read.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from mlcycle.core import InputError, new_id, now
from mlcycle.serving._log_store import (
    find_rows,
    flush_local,
    log_dir,
    log_table,
    model_folder,
    scan_parts,
    write_part,
)
from mlcycle.store import Workspace
from mlcycle.store.schema import InferenceLogRow, LabelRow

_CHUNK = 500  # ids per IN (...) clause, well under SQLite's bound-parameter limit


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # NumPy scalar
        return _json_safe(value.item())
    return value


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    return [list(ids[i : i + _CHUNK]) for i in range(0, len(ids), _CHUNK)]


def log_predictions(
    ws: Workspace,
    request_id: str,
    model_name: str,
    model_version: int,
    inputs: pd.DataFrame,
    predictions: Sequence[Any],
    probabilities: Sequence[Sequence[float]] | None = None,
) -> list[str]:
    """Append one request's rows to the inference log now (one durable part); return their ids.

    The server batches its writes instead; this is for clients that log
    predictions made elsewhere. Request ids are not checked for reuse here
    (the server rejects a reused one, see `docs/serving.md`).

    Args:
        inputs: shape (n_rows, n_inputs), the model's input columns.
        predictions: n_rows model outputs.
        probabilities: shape (n_rows, n_classes) for classifiers, else None.
    """
    ids = [f"{request_id}-{i}" for i in range(len(inputs))]
    proba = None if probabilities is None else np.asarray(probabilities, np.float64)
    requests = [(request_id, "primary", len(ids))]
    outputs = (np.asarray(predictions), proba)
    table = log_table(inputs, ids, requests, (model_name, model_version), outputs, now())
    write_part(model_folder(log_dir(ws.state_dir), model_name), table, f"api-{new_id()[:12]}")
    return ids


def _legacy_rows(ws: Workspace, ids: Sequence[str]) -> list[dict[str, Any]]:
    with ws.db.session() as s:
        rows = [
            r
            for chunk in _chunks(ids)
            for r in s.scalars(select(InferenceLogRow).where(InferenceLogRow.id.in_(chunk)))
        ]
    return [
        {
            **r.inputs,
            "prediction_id": r.id,
            "model_version": r.model_version,
            "prediction": r.prediction["value"],
            "proba": r.prediction.get("proba"),
        }
        for r in rows
    ]


def _logged(ws: Workspace, ids: Sequence[str], columns: list[str] | None = None) -> pd.DataFrame:
    """The logged rows with these ids (Parquet parts, then the old database table)."""
    flush_inference_log(ws)
    found = find_rows(log_dir(ws.state_dir), ids, columns)
    have = set(found["prediction_id"]) if len(found) else set()
    legacy = _legacy_rows(ws, [i for i in ids if i not in have])
    if legacy:
        old = pd.DataFrame.from_records(legacy)
        found = pd.concat([found, old[columns] if columns else old], ignore_index=True)
    return found


def flush_inference_log(ws: Workspace) -> None:
    """Write the predictions this process's servers still buffer for `ws` (no-op if none).

    Readers in this process call it for you; a server in another process
    flushes on its own every `serving.log_flush_seconds`.
    """
    flush_local(log_dir(ws.state_dir))


def log_labels(ws: Workspace, prediction_ids: Sequence[str], values: Sequence[Any]) -> int:
    """Record ground truth for logged predictions; return how many ids were known.

    Labels for ids not in the inference log are ignored (counted out), and a
    label sent again replaces the old one. Only flushed predictions are known.

    Raises:
        InputError: if the two sequences differ in length.
    """
    if len(prediction_ids) != len(values):
        raise InputError(f"{len(prediction_ids)} prediction ids but {len(values)} labels")
    found = _logged(ws, prediction_ids, ["prediction_id"])
    known = set(found["prediction_id"]) if len(found) else set()
    stamp = now()
    with ws.db.session() as s:
        for pid, value in zip(prediction_ids, values, strict=True):
            if pid in known:
                s.merge(LabelRow(prediction_id=pid, value=_json_safe(value), timestamp=stamp))
    return len(known)


def read_labels(ws: Workspace, ids: Sequence[str]) -> dict[str, Any]:
    """The ground truth recorded for these prediction ids (ids without a label are left out)."""
    query = select(LabelRow.prediction_id, LabelRow.value)
    with ws.db.session() as s:
        return {
            pid: value
            for chunk in _chunks(ids)
            for pid, value in s.execute(query.where(LabelRow.prediction_id.in_(chunk)))
        }


def read_inference_log(ws: Workspace, prediction_ids: Sequence[str]) -> pd.DataFrame:
    """Return the logged rows with these ids, in the order given.

    Columns: the inputs, then `prediction_id`, `model_version`,
    `prediction`, `proba` (list of class probabilities, or None) and
    `label` (None where no label arrived). Unknown ids are left out, and
    so are predictions still in a server's memory (not yet flushed).
    """
    frame = _logged(ws, prediction_ids)
    if frame.empty:
        return frame
    head = ["prediction_id", "request_id", "timestamp", "model_name", "role"]
    inputs = [c for c in frame.columns if c not in {*head, "model_version", "prediction", "proba"}]
    if "proba" not in frame.columns:
        frame["proba"] = None
    frame = frame[[*inputs, "prediction_id", "model_version", "prediction", "proba"]]
    labels = read_labels(ws, frame["prediction_id"].tolist())
    frame = frame.assign(label=frame["prediction_id"].map(lambda pid: labels.get(pid)))
    frame["proba"] = frame["proba"].map(lambda p: None if p is None else list(p))
    order = {pid: i for i, pid in enumerate(prediction_ids)}
    return frame.sort_values("prediction_id", key=lambda ids: ids.map(order)).reset_index(drop=True)


def scan_inference_log(
    ws: Workspace,
    *,
    model_name: str | None = None,
    start: float | None = None,
    end: float | None = None,
    columns: Sequence[str] | None = None,
) -> Iterator[pd.DataFrame]:
    """Stream the inference log's rows with `start <= timestamp < end`, one part at a time.

    Memory: one part at a time, i.e. at most the rows one server process
    flushed at once (one flush interval of traffic, at most 100,000 rows).
    Parts outside the window are skipped by name without being opened.
    Rows of the old database table and unflushed rows are not included.

    Args:
        ws: the workspace.
        model_name: only this model's rows (default: every model's).
        start: seconds since the epoch (inclusive), or None for no bound.
        end: seconds since the epoch (exclusive), or None for no bound.
        columns: the columns to return (default: all; unknown names are skipped).

    Yields:
        Frames with the columns of the log (see `docs/serving.md`), oldest part first.
    """
    flush_inference_log(ws)
    yield from scan_parts(log_dir(ws.state_dir), model_name, start, end, columns)
