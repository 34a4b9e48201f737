"""The `lightgbm` flavor: LightGBM's own text model format (Booster.save_model).

Accepts a `lightgbm.Booster` or a fitted scikit-learn-API model
(`LGBMRegressor`, `LGBMClassifier`); either is loaded back as a Booster.
Inputs must be numeric: categorical features are encoded before training.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.core import Task
from mlcycle.models._flavors._base import (
    Inputs,
    Scorer,
    numeric_matrix,
    require,
)
from mlcycle.models._flavors._booster import BoosterFlavor

if TYPE_CHECKING:
    from mlcycle.models._signature import Signature

MODEL_FILE = "model.lgb.txt"


class LightGBMFlavor(BoosterFlavor):
    """LightGBM boosters (text format: plain data, nothing executable)."""

    name = "lightgbm"
    extra: str | None = "lightgbm"
    model_file = MODEL_FILE

    def booster(self, model: Any) -> Any:
        return getattr(model, "booster_", model)

    def load(
        self, folder: Path, task: Task, signature: Signature, options: Mapping[str, Any]
    ) -> Any:
        lgb = require("lightgbm", self.extra)
        booster = lgb.Booster(model_file=str(folder / MODEL_FILE))

        def score(frame: Inputs) -> Any:
            return booster.predict(numeric_matrix(frame, signature))

        return Scorer(score, task, signature)

    def to_onnx(self, model: Any, signature: Signature) -> bytes:
        from onnxmltools import convert_lightgbm
        from onnxmltools.convert.common.data_types import FloatTensorType

        types = [("input", FloatTensorType([None, len(signature.inputs)]))]
        onnx_model = convert_lightgbm(self.booster(model), initial_types=types, zipmap=False)
        return bytes(onnx_model.SerializeToString())
