"""Importable helpers for tests: model classes for the pyfunc and PyTorch flavors (which
rebuild a model from its import path) and a registered LightGBM model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch


class TempScaled:
    """A pyfunc model: `factor * temp + offset`; its parameters are an artifact file."""

    def __init__(self, factor: float, offset: float) -> None:
        self.factor = factor
        self.offset = offset

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.factor * frame["temp"] + self.offset, dtype=np.float64)

    def save(self, folder: Path) -> None:
        (folder / "params").mkdir()
        (folder / "params" / "scale.json").write_text(json.dumps([self.factor, self.offset]))

    @classmethod
    def load(cls, folder: Path) -> TempScaled:
        factor, offset = json.loads((folder / "params" / "scale.json").read_text())
        return cls(factor, offset)


class Mlp(torch.nn.Module):
    """A small multi-layer perceptron: (n, n_inputs) -> (n, n_outputs)."""

    def __init__(self, n_inputs: int, n_outputs: int) -> None:
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(n_inputs, 16), torch.nn.ReLU(), torch.nn.Linear(16, n_outputs)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)  # type: ignore[no-any-return]


def register_lightgbm(ws: Any, name: str, rows: pd.DataFrame, features: list[str]) -> Any:
    """Train a small LightGBM regressor of `cnt` on `rows`, log it in a run with ONNX
    acceleration, register it as `name` and point `production` at it; return the version."""
    import lightgbm as lgb

    from mlcycle.models import ModelMeta, Signature
    from mlcycle.registry import register_model_version, set_alias
    from mlcycle.tracking import start_run

    X, y = rows[features], rows["cnt"].astype(float)
    model = lgb.LGBMRegressor(n_estimators=30, random_state=0, verbose=-1).fit(X, y)
    with start_run(ws, experiment="flavors") as run:
        meta = ModelMeta("regression", Signature.infer(X, y))
        package_id = run.log_model(model, meta, evaluation_data=X)
    version = register_model_version(ws, name, package_id, run_id=run.id)
    set_alias(ws, name, "production", version.version)
    return version
