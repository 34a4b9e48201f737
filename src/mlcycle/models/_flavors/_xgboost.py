"""The `xgboost` flavor: XGBoost's JSON model format (Booster.save_model).

Accepts an `xgboost.Booster` or a fitted scikit-learn-API model
(`XGBRegressor`, `XGBClassifier`). Classifiers must output probabilities
(`binary:logistic` or `multi:softprob`, XGBoost's defaults). Inputs must
be numeric.
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

MODEL_FILE = "model.xgb.json"


class XGBoostFlavor(BoosterFlavor):
    """XGBoost boosters (JSON: plain data, nothing executable)."""

    name = "xgboost"
    extra: str | None = "xgboost"
    model_file = MODEL_FILE

    def booster(self, model: Any) -> Any:
        return model.get_booster() if hasattr(model, "get_booster") else model

    def _read(self, folder: Path) -> Any:
        xgb = require("xgboost", self.extra)
        booster = xgb.Booster()
        booster.load_model(str(folder / MODEL_FILE))
        return booster

    def load(
        self, folder: Path, task: Task, signature: Signature, options: Mapping[str, Any]
    ) -> Any:
        booster = self._read(folder)

        def score(frame: Inputs) -> Any:
            return booster.inplace_predict(numeric_matrix(frame, signature))

        return Scorer(score, task, signature)

    def to_onnx(self, model: Any, signature: Signature) -> bytes:
        import tempfile

        from onnxmltools import convert_xgboost
        from onnxmltools.convert.common.data_types import FloatTensorType

        # onnxmltools reads features as f0..fN only: convert a copy without names.
        with tempfile.TemporaryDirectory() as tmp:
            self.save(model, Path(tmp), "regression", signature, {})
            booster = self._read(Path(tmp))
        booster.feature_names = None
        types = [("input", FloatTensorType([None, len(signature.inputs)]))]
        return bytes(convert_xgboost(booster, initial_types=types).SerializeToString())
