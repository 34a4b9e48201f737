"""ONNX acceleration: convert a model, and keep the ONNX copy only if it is faithful.

Rule (documented in docs/flavors.md): the ONNX model is faithful when,
on every row of the evaluation data and every output value v (the
prediction for regression, each class probability for classification),
|v_onnx - v_native| <= 1e-5 * max(1, |v_native|): an absolute bound of
1e-5 for values up to 1, relative beyond (ONNX tree ensembles compute in
float32, whose relative precision is about 6e-8 per operation).
Classifiers must also predict the same labels on every row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlcycle.core import Task
from mlcycle.models._flavors import Flavor, onnx_scorer
from mlcycle.models._flavors._onnx import MODEL_FILE as ONNX_FILE
from mlcycle.models._signature import Signature

log = logging.getLogger("mlcycle.models")

#: The tolerance of the faithfulness rule above.
TOLERANCE = 1e-5


@dataclass(frozen=True)
class OnnxCheck:
    """The outcome of a conversion attempt.

    Attributes:
        faithful: whether the ONNX copy was kept.
        max_diff: the largest |v_onnx - v_native| seen (None if conversion failed).
        reason: why it was not kept ("" when faithful).
    """

    faithful: bool
    max_diff: float | None
    reason: str


def _outputs(model: Any, frame: pd.DataFrame, task: Task) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(model.predict(frame))
    values = model.predict_proba(frame) if task == "classification" else labels
    return labels, np.asarray(values, dtype=np.float64)


def compare(native: Any, onnx: Any, frame: pd.DataFrame, task: Task) -> OnnxCheck:
    """Apply the faithfulness rule to two predictors on `frame` (n_rows, n_inputs)."""
    native_labels, expected = _outputs(native, frame, task)
    onnx_labels, got = _outputs(onnx, frame, task)
    diff = np.abs(got - expected)
    max_diff = float(diff.max()) if diff.size else 0.0
    if not np.all(diff <= TOLERANCE * np.maximum(1.0, np.abs(expected))):
        return OnnxCheck(False, max_diff, f"max |diff| {max_diff:.3g} exceeds the tolerance")
    if task == "classification" and not np.array_equal(native_labels, onnx_labels):
        return OnnxCheck(False, max_diff, "predicted labels differ")
    return OnnxCheck(True, max_diff, "")


def try_onnx(
    flavor: Flavor,
    model: Any,
    native: Any,
    folder: Path,
    task: Task,
    signature: Signature,
    evaluation: pd.DataFrame,
) -> OnnxCheck:
    """Convert `model`, write `folder/model.onnx` and keep it only if faithful on `evaluation`.

    Conversion errors (unsupported operators or estimators, a missing
    converter) are not errors of packaging: the model is served natively.
    """
    path = folder / ONNX_FILE
    try:
        path.write_bytes(flavor.to_onnx(model, signature))
        check = compare(native, onnx_scorer(path, task, signature), evaluation, task)
    except Exception as err:  # any converter or runtime failure means: stay native
        check = OnnxCheck(False, None, f"conversion failed: {type(err).__name__}: {err}")
    if not check.faithful:
        path.unlink(missing_ok=True)
        log.info("serving %s natively: %s", flavor.name, check.reason.splitlines()[0])
    return check
