"""Running a prediction for the app: validate, predict, write the inference log.

The :class:`Predictor` is the one place a request's rows meet the model, so
that micro-batching (merging concurrent requests into one model call)
plugs in here without the routes or the rollout logic knowing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from fastapi.concurrency import run_in_threadpool

from mlcycle.serving._holder import Served
from mlcycle.serving._inference_log import log_predictions
from mlcycle.serving._metrics import ServerMetrics
from mlcycle.store import Workspace


@dataclass(frozen=True)
class Prediction:
    """One request's result.

    Attributes:
        predictions: shape (n_rows,), the model's outputs.
        probabilities: shape (n_rows, n_classes) for classifiers, else None.
        ids: the prediction ids written to the inference log, one per row.
    """

    predictions: np.ndarray
    probabilities: np.ndarray | None
    ids: list[str]


class Predictor:
    """Validates a request frame against the signature, predicts and logs it.

    Args:
        ws: the workspace whose inference log receives the rows.
        metrics: the server's Prometheus metrics.
    """

    def __init__(self, ws: Workspace, metrics: ServerMetrics) -> None:
        self.ws = ws
        self.metrics = metrics

    async def predict(
        self, served: Served, frame: pd.DataFrame, request_id: str, *, role: str = "primary"
    ) -> Prediction:
        """Predict `frame` (n_rows, n_inputs) with `served`, off the event loop.

        `role` says why this version answers: "primary" (the client gets
        this answer), "canary" (a share of traffic) or "shadow" (mirrored;
        the client never sees it). Shadow rows are logged with prediction
        ids `<request_id>-shadow-<row>` so they never collide with the
        primary's `<request_id>-<row>`.

        Raises:
            InputError: if the frame does not match the signature, or the
                request id was used before.
        """
        return await run_in_threadpool(self._predict, served, frame, request_id, role)

    def _predict(
        self, served: Served, frame: pd.DataFrame, request_id: str, role: str
    ) -> Prediction:
        model = served.model
        inputs = model.meta.signature.validate(frame)
        predictions: np.ndarray = model.estimator.predict(inputs)
        proba = None
        if model.meta.task == "classification":
            proba = model.estimator.predict_proba(inputs)
        ids = log_predictions(
            self.ws,
            request_id if role != "shadow" else f"{request_id}-shadow",
            served.name,
            served.version,
            inputs,
            predictions.tolist(),
            proba,
        )
        self.metrics.predicted(served.name, served.version, len(ids))
        return Prediction(predictions, proba, ids)
