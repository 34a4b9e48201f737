"""Running a prediction for the app: validate, batch, predict, log.

The :class:`Predictor` is the one place a request's rows meet the model.
Each request joins a :class:`~mlcycle.serving._batching.MicroBatcher` of
its model version, which merges concurrent requests into one model call
and splits the result back. Rows of a numeric signature arrive as a
validated :class:`Matrix` and are merged and predicted without pandas;
other rows are frames, validated per batch, and per request when the
batch fails, so a bad request fails alone. The routes and the rollout
logic do not know.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlcycle.core import InputError, ServingConfig
from mlcycle.models import Signature
from mlcycle.serving._batching import MicroBatcher, RequestTimeout
from mlcycle.serving._holder import Served
from mlcycle.serving._log_store import Batch, LogWriter, log_dir
from mlcycle.serving._metrics import ServerMetrics, note_model
from mlcycle.serving._tensors import Inputs, Matrix
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
    # numeric signatures: a validated Matrix; else the frame as received, shape
    # (n_rows, >= n_inputs), with every input column (validated with its batch)
    inputs: Inputs
    log_id: str  # the request id in the log (shadow answers get a suffix)
    role: str


_MAX_BATCHERS = 8  # model versions with a batcher before idle ones are dropped


def _merge(parts: Sequence[Inputs]) -> Inputs:
    if len(parts) == 1:
        return parts[0]
    matrices = [p for p in parts if isinstance(p, Matrix)]
    if matrices:  # one signature per batcher: all matrices or all frames
        return Matrix(np.concatenate([m.values for m in matrices]), matrices[0].names)
    return pd.concat([p for p in parts if isinstance(p, pd.DataFrame)], ignore_index=True)


def _for_signature(inputs: Inputs, signature: Signature) -> Inputs:
    """`inputs` as this signature's batches hold them: a Matrix in its column order if
    numeric, else a frame (rows parsed for another version's signature are matched by name).

    Raises:
        InputError: if a numeric signature's column is missing or mistyped.
    """
    names = tuple(signature.input_names)
    if isinstance(inputs, Matrix):
        if inputs.names == names:
            return inputs
        inputs = inputs.frame()
    if signature.numeric:
        return Matrix.validated(inputs, signature)
    if any(name not in inputs.columns for name in names):
        signature.validate(inputs)  # raises the error naming the missing column
    return inputs


def _frame(inputs: Inputs) -> pd.DataFrame:
    return inputs.frame() if isinstance(inputs, Matrix) else inputs


def _take(inputs: Inputs, keep: np.ndarray) -> Inputs:
    if isinstance(inputs, Matrix):
        return Matrix(inputs.values[keep], inputs.names)
    return inputs[keep].reset_index(drop=True)


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
        self, served: Served, inputs: Inputs, request_id: str, *, role: str = "primary"
    ) -> Prediction:
        """Predict `inputs` (n_rows, n_inputs) with `served`, batched with concurrent requests.

        `inputs` is a :class:`Matrix` (validated rows of a numeric signature,
        see :func:`~mlcycle.serving._records.inputs_from_records`) or a frame
        as received; either is matched to `served`'s signature by column name.

        `role` says why this version answers: "primary" (the client gets
        this answer), "canary" (a share of traffic) or "shadow" (mirrored;
        the client never sees it). Shadow rows are logged with prediction
        ids `<request_id>-shadow-<row>` so they never collide with the
        primary's `<request_id>-<row>`.

        Raises:
            InputError: if the rows do not match the signature, or the
                request id was used before (by this server process).
            ServerBusy: if `serving.max_queue` requests already wait (503).
            RequestTimeout: past `serving.request_timeout_seconds` (504).
        """
        if role != "shadow":
            note_model(served.name, served.version)
        inputs = _for_signature(inputs, served.model.meta.signature)
        log_id = request_id if role != "shadow" else f"{request_id}-shadow"
        item = _Request(served, inputs, log_id, role)
        timeout = self.config.request_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                return await self._batcher(served).submit(item, len(inputs))
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
        if signature.numeric:  # matrices, validated per request
            return self._predict(items, _merge([i.inputs for i in items]))
        try:  # validating the merged rows once is the fast, common case
            inputs = signature.validate(_frame(_merge([i.inputs for i in items])))
        except InputError:  # find the bad requests; the others still get answers
            return self._run_valid(items)
        return self._predict(items, inputs)

    def _run_valid(self, items: list[_Request]) -> list[Prediction | Exception]:
        signature = items[0].served.model.meta.signature
        errors: dict[int, Exception] = {}
        valid: list[pd.DataFrame] = []
        for n, item in enumerate(items):
            try:
                valid.append(signature.validate(_frame(item.inputs)))
            except InputError as err:
                errors[n] = err
        good = [item for n, item in enumerate(items) if n not in errors]
        answers = iter(self._predict(good, _merge(valid)) if good else [])
        return [errors[n] if n in errors else next(answers) for n in range(len(items))]

    def _predict(self, items: list[_Request], inputs: Inputs) -> list[Prediction | Exception]:
        served = items[0].served
        predictions, proba = served.model.outputs(
            inputs.values if isinstance(inputs, Matrix) else inputs
        )
        bounds = np.cumsum([0, *(len(i.inputs) for i in items)])
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
        inputs: Inputs,
        predictions: np.ndarray,
        proba: np.ndarray | None,
    ) -> None:
        answered = [(i, o) for i, o in zip(items, out, strict=True) if isinstance(o, Prediction)]
        if not answered:
            return
        keep = np.concatenate(
            [
                np.full(len(i.inputs), isinstance(o, Prediction))
                for i, o in zip(items, out, strict=True)
            ]
        )
        ids = [pid for _, o in answered for pid in o.ids]
        per_request = [(i.log_id, i.role, len(o.ids)) for i, o in answered]
        batch = Batch(
            inputs if keep.all() else _take(inputs, keep),
            ids, per_request, (served.name, served.version), predictions[keep],
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
