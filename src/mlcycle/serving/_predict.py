"""Running a prediction for the app: validate, batch, predict, log.

The :class:`Predictor` is the one place a request's rows meet the model:
each request is validated on its own (a bad request fails alone), then
joins a :class:`~mlcycle.serving._batching.MicroBatcher` of its model
version, which merges concurrent requests into one model call and splits
the result back. The routes and the rollout logic do not know.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlcycle.core import InputError, ServingConfig
from mlcycle.serving._batching import MicroBatcher, RequestTimeout
from mlcycle.serving._holder import Served
from mlcycle.serving._log_store import Batch, LogWriter, log_dir
from mlcycle.serving._metrics import ServerMetrics, note_model
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


@dataclass(frozen=True)
class _Request:
    served: Served
    frame: pd.DataFrame  # as received, shape (n_rows, >= n_inputs); has every input column
    log_id: str  # the request id in the log (shadow answers get a suffix)
    role: str


_MAX_BATCHERS = 8  # model versions with a batcher before idle ones are dropped


def _merge(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


class _RecentIds:
    """The last `size` request ids seen by this process (duplicates are refused)."""

    def __init__(self, size: int = 1_000_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def add(self, request_id: str) -> bool:
        """Remember `request_id`; False if it was already there."""
        with self._lock:
            if request_id in self._ids:
                return False
            self._ids[request_id] = None
            if len(self._ids) > self._size:
                self._ids.popitem(last=False)
            return True


class Predictor:
    """Validates request frames, batches them per model version, predicts and logs.

    Args:
        ws: the workspace whose inference log receives the rows.
        metrics: the server's Prometheus metrics.
        config: batching, limits and log flushing (default: the workspace's).
    """

    def __init__(
        self, ws: Workspace, metrics: ServerMetrics, config: ServingConfig | None = None
    ) -> None:
        self.ws, self.metrics = ws, metrics
        self.config = config or ws.config.serving
        self.log = LogWriter(log_dir(ws.state_dir), self.config.log_flush_seconds)
        self._batchers: dict[tuple[str, int], MicroBatcher[_Request, Prediction]] = {}
        self._seen = _RecentIds()

    async def predict(
        self, served: Served, frame: pd.DataFrame, request_id: str, *, role: str = "primary"
    ) -> Prediction:
        """Predict `frame` (n_rows, n_inputs) with `served`, batched with concurrent requests.

        `role` says why this version answers: "primary" (the client gets
        this answer), "canary" (a share of traffic) or "shadow" (mirrored;
        the client never sees it). Shadow rows are logged with prediction
        ids `<request_id>-shadow-<row>` so they never collide with the
        primary's `<request_id>-<row>`.

        Raises:
            InputError: if the frame does not match the signature, or the
                request id was used before (by this server process).
            ServerBusy: if `serving.max_queue` requests already wait (503).
            RequestTimeout: past `serving.request_timeout_seconds` (504).
        """
        if role != "shadow":
            note_model(served.name, served.version)
        signature = served.model.meta.signature
        if any(name not in frame.columns for name in signature.input_names):
            signature.validate(frame)  # raises the error naming the missing column
        log_id = request_id if role != "shadow" else f"{request_id}-shadow"
        item = _Request(served, frame, log_id, role)
        timeout = self.config.request_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                return await self._batcher(served).submit(item, len(frame))
        except TimeoutError:
            raise RequestTimeout(
                f"request '{request_id}' took over {timeout} s waiting for the model "
                "(serving.request_timeout_seconds); retry later"
            ) from None

    def _batcher(self, served: Served) -> MicroBatcher[_Request, Prediction]:
        key = (served.name, served.version)
        batcher = self._batchers.get(key)
        if batcher is None:
            self._forget_idle()
            name, version = key
            batcher = self._batchers[key] = MicroBatcher(
                self._run,
                max_rows=self.config.max_batch_size,
                max_latency=self.config.max_latency_ms / 1000,
                max_queue=self.config.max_queue,
                on_batch=lambda rows, n: self.metrics.batched(name, version, rows, n),
                on_depth=lambda depth: self.metrics.queued(name, version, depth),
            )
        return batcher

    def _forget_idle(self) -> None:
        """Drop idle batchers once there are many (versions swapped out keep no model alive)."""
        if len(self._batchers) >= _MAX_BATCHERS:
            self._batchers = {k: b for k, b in self._batchers.items() if b.depth}

    def _run(self, items: list[_Request]) -> list[Prediction | Exception]:
        """One model call for `items` (all of one version), in a worker thread."""
        signature = items[0].served.model.meta.signature
        try:  # validating the merged rows once is the fast, common case
            inputs = signature.validate(_merge([i.frame for i in items]))
        except InputError:  # find the bad requests; the others still get answers
            return self._run_valid(items)
        return self._predict(items, inputs)

    def _run_valid(self, items: list[_Request]) -> list[Prediction | Exception]:
        signature = items[0].served.model.meta.signature
        errors: dict[int, Exception] = {}
        valid: list[pd.DataFrame] = []
        for n, item in enumerate(items):
            try:
                valid.append(signature.validate(item.frame))
            except InputError as err:
                errors[n] = err
        good = [item for n, item in enumerate(items) if n not in errors]
        answers = iter(self._predict(good, _merge(valid)) if good else [])
        return [errors[n] if n in errors else next(answers) for n in range(len(items))]

    def _predict(self, items: list[_Request], inputs: pd.DataFrame) -> list[Prediction | Exception]:
        served = items[0].served
        model = served.model
        predictions: np.ndarray = np.asarray(model.estimator.predict(inputs))
        proba = None
        if model.meta.task == "classification":
            proba = np.asarray(model.estimator.predict_proba(inputs))
        bounds = np.cumsum([0, *(len(i.frame) for i in items)])
        out: list[Prediction | Exception] = []
        for item, lo, hi in zip(items, bounds[:-1], bounds[1:], strict=True):
            if not self._seen.add(item.log_id):
                out.append(
                    InputError(f"request id '{item.log_id}' was already used; send a new one")
                )
                continue
            ids = [f"{item.log_id}-{i}" for i in range(hi - lo)]
            part = None if proba is None else proba[lo:hi]
            out.append(Prediction(predictions[lo:hi], part, ids))
        self._log(served, items, out, inputs, predictions, proba)
        return out

    def _log(
        self,
        served: Served,
        items: list[_Request],
        out: list[Prediction | Exception],
        inputs: pd.DataFrame,
        predictions: np.ndarray,
        proba: np.ndarray | None,
    ) -> None:
        answered = [(i, o) for i, o in zip(items, out, strict=True) if isinstance(o, Prediction)]
        if not answered:
            return
        keep = np.concatenate(
            [
                np.full(len(i.frame), isinstance(o, Prediction))
                for i, o in zip(items, out, strict=True)
            ]
        )
        ids = [pid for _, o in answered for pid in o.ids]
        per_row = [(i.log_id, i.role) for i, o in answered for _ in o.ids]
        batch = Batch(
            inputs if keep.all() else inputs[keep].reset_index(drop=True),
            ids, per_row, (served.name, served.version), predictions[keep],
            None if proba is None else proba[keep],
        )  # fmt: skip
        self.log.append(served.name, batch)
        if self.config.log_flush_seconds == 0:
            self.log.flush()  # durable before the reply
        self.metrics.predicted(served.name, served.version, len(ids))

    def queued(self) -> int:
        """The number of requests waiting for a model call, over every version."""
        return sum(b.depth for b in self._batchers.values())

    async def close(self) -> None:
        """Stop the batchers and write the buffered log rows."""
        for batcher in self._batchers.values():
            await batcher.close()
        await asyncio.to_thread(self.log.close)
