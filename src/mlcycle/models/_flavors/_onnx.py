"""The `onnx` flavor and the ONNX runtime every flavor can be served through.

An ONNX model (https://onnx.ai) runs with onnxruntime. Two input layouts
are understood: one 2-D tensor (n_rows, n_inputs) in signature order (what
onnxmltools and torch export), or one (n_rows, 1) tensor per input column,
named like the column (what skl2onnx makes of a pipeline). Outputs: the
first output is the prediction for regression; a classifier's
probabilities are its first 2-D float output with one column per class
(label outputs and ZipMap outputs are skipped).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlcycle.core import InputError, Task
from mlcycle.models._flavors._base import (
    Inputs,
    Options,
    Scorer,
    class_count,
    numeric_matrix,
    require,
)

if TYPE_CHECKING:
    from mlcycle.models._signature import Signature

MODEL_FILE = "model.onnx"
_NUMPY_OF = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(string)": object}


def _feeds(session: Any, data: Inputs, signature: Signature) -> dict[str, np.ndarray]:
    inputs = session.get_inputs()
    if not {i.name for i in inputs} <= set(signature.input_names):
        dtype = _NUMPY_OF.get(inputs[0].type, np.float32)
        return {inputs[0].name: numeric_matrix(data, signature, dtype)}
    if isinstance(data, np.ndarray):  # a numeric matrix in signature order
        column = {name: j for j, name in enumerate(signature.input_names)}
        return {
            i.name: data[:, column[i.name] : column[i.name] + 1].astype(
                _NUMPY_OF.get(i.type, np.float32)
            )
            for i in inputs
        }
    return {
        i.name: data[i.name].to_numpy(dtype=_NUMPY_OF.get(i.type, np.float32)).reshape(-1, 1)
        for i in inputs
    }


def _pick(outputs: list[Any], classes: int | None) -> np.ndarray:
    if classes is None:
        return np.asarray(outputs[0])
    for out in outputs:
        is_float_matrix = isinstance(out, np.ndarray) and out.ndim == 2 and out.dtype.kind == "f"
        if is_float_matrix and out.shape[1] == classes:
            return np.asarray(out)
    raise InputError(f"the ONNX model has no (n_rows, {classes}) probability output")


def onnx_scorer(path: Path, task: Task, signature: Signature) -> Scorer:
    """A :class:`Scorer` running the ONNX file at `path` with onnxruntime on CPU.

    Raises:
        ConfigError: if onnxruntime is not installed.
    """
    ort = require("onnxruntime", "onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    classes = class_count(task, signature)

    def score(data: Inputs) -> np.ndarray:
        return _pick(session.run(None, _feeds(session, data, signature)), classes)

    return Scorer(score, task, signature)


class OnnxFlavor:
    """Models already in ONNX: an `onnx.ModelProto`, or the file's bytes."""

    name = "onnx"
    extra: str | None = "onnx"

    def owns(self, model: Any) -> bool:
        return type(model).__name__ == "ModelProto" and type(model).__module__.startswith("onnx")

    def save(
        self, model: Any, folder: Path, task: Task, signature: Signature, options: Mapping[str, Any]
    ) -> Options:
        data = model if isinstance(model, bytes) else model.SerializeToString()
        (folder / MODEL_FILE).write_bytes(data)
        return {"model_file": MODEL_FILE}

    def load(
        self, folder: Path, task: Task, signature: Signature, options: Mapping[str, Any]
    ) -> Any:
        return onnx_scorer(folder / MODEL_FILE, task, signature)

    def versions(self) -> dict[str, str]:
        return {"onnxruntime": require("onnxruntime", self.extra).__version__}

    def to_onnx(self, model: Any, signature: Signature) -> bytes:
        raise InputError("an ONNX model is served by onnxruntime already")
