"""The inference log: every prediction with request id and model version; labels join later.

Rows live in the metadata database (table `inference_log`); one request's
rows are written in one transaction before the response is sent, so an
acknowledged prediction is never lost. Prediction ids are
`<request_id>-<row>`; ground truth joins by that id (table `labels`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy.exc
from sqlalchemy import select

from mlcycle.core import InputError, now
from mlcycle.store import Workspace
from mlcycle.store.schema import InferenceLogRow, LabelRow


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # NumPy scalar
        return _json_safe(value.item())
    return value


def _prediction(value: Any, proba: Sequence[float] | None) -> dict[str, Any]:
    out = {"value": _json_safe(value)}
    if proba is not None:
        out["proba"] = [float(p) for p in proba]
    return out


_CHUNK = 500  # ids per IN (...) clause, well under SQLite's bound-parameter limit


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
    """Append one request's rows to the inference log; return their prediction ids.

    Each row stores its inputs and `{"value": prediction}`, plus `"proba"`
    (class probabilities) for classifiers.
    """
    stamp = now()
    ids = [f"{request_id}-{i}" for i in range(len(inputs))]
    records = inputs.to_dict(orient="records")
    rows = [
        InferenceLogRow(
            id=pid,
            request_id=request_id,
            timestamp=stamp,
            model_name=model_name,
            model_version=model_version,
            inputs={k: _json_safe(v) for k, v in rec.items()},
            prediction=_prediction(pred, probabilities[i] if probabilities is not None else None),
        )
        for i, (pid, rec, pred) in enumerate(zip(ids, records, predictions, strict=True))
    ]
    try:
        with ws.db.session() as s:
            s.add_all(rows)
    except sqlalchemy.exc.IntegrityError:
        raise InputError(f"request id '{request_id}' was already used; send a new one") from None
    return ids


def log_labels(ws: Workspace, prediction_ids: Sequence[str], values: Sequence[Any]) -> int:
    """Record ground truth for logged predictions; return how many ids were known.

    Labels for ids not in the inference log are ignored (counted out), and a
    label sent again replaces the old one.

    Raises:
        InputError: if the two sequences differ in length.
    """
    if len(prediction_ids) != len(values):
        raise InputError(f"{len(prediction_ids)} prediction ids but {len(values)} labels")
    stamp = now()
    with ws.db.session() as s:
        known: set[str] = set()
        for chunk in _chunks(prediction_ids):
            known.update(s.scalars(select(InferenceLogRow.id).where(InferenceLogRow.id.in_(chunk))))
        for pid, value in zip(prediction_ids, values, strict=True):
            if pid in known:
                s.merge(LabelRow(prediction_id=pid, value=_json_safe(value), timestamp=stamp))
    return len(known)


def read_inference_log(ws: Workspace, prediction_ids: Sequence[str]) -> pd.DataFrame:
    """Return the logged rows with these ids, in the order given.

    Columns: the inputs, then `prediction_id`, `model_version`,
    `prediction`, `proba` (list of class probabilities, or None) and
    `label` (None where no label arrived). Unknown ids are left out.
    """
    query = select(InferenceLogRow, LabelRow.value).outerjoin(
        LabelRow, LabelRow.prediction_id == InferenceLogRow.id
    )
    with ws.db.session() as s:
        rows = [
            row
            for chunk in _chunks(prediction_ids)
            for row in s.execute(query.where(InferenceLogRow.id.in_(chunk))).all()
        ]
    records = [
        {
            **r.inputs,
            "prediction_id": r.id,
            "model_version": r.model_version,
            "prediction": r.prediction["value"],
            "proba": r.prediction.get("proba"),
            "label": label,
        }
        for r, label in rows
    ]
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        return frame
    order = {pid: i for i, pid in enumerate(prediction_ids)}
    return frame.sort_values("prediction_id", key=lambda ids: ids.map(order)).reset_index(drop=True)
