"""A small registered classifier for the serving tests that need no trained bike model."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from mlcycle.models import Signature, save_model, store_package
from mlcycle.registry import register_model_version, set_alias
from mlcycle.store import Workspace

MODEL = "toy"
FEATURES = [f"f{i}" for i in range(4)]


def toy_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """`rows` seeded rows of the toy model's four float features."""
    return pd.DataFrame(np.random.default_rng(seed).normal(size=(rows, 4)), columns=FEATURES)


def toy_workspace(root: Path, *, city: bool = False) -> Workspace:
    """A workspace where `toy` v1 (a logistic regression) has alias `production`.

    With `city`, the model also takes a string column `city` (one-hot
    encoded), so its rows travel as frames, not as a numeric matrix.
    """
    ws = Workspace(root)
    x = toy_frame(200)
    model: Any = LogisticRegression()
    if city:
        x["city"] = np.where(x["f3"] > 0, "Oslo", "Rome")
        encode = ColumnTransformer(
            [("city", OneHotEncoder(handle_unknown="ignore"), ["city"])], remainder="passthrough"
        )
        model = make_pipeline(encode, model)
    model.fit(x, (x["f0"] + x["f1"] > 0).astype(int))
    target = pd.Series(model.predict(x), name="label")
    signature = Signature.infer(x, target, classes=list(model.classes_))
    folder = save_model(model, root / "pkg", task="classification", signature=signature)
    version = register_model_version(ws, MODEL, store_package(ws.objects, folder))
    set_alias(ws, MODEL, "production", version.version)
    return ws


class Gated:
    """Wraps a real estimator: counts `predict` calls and their rows, and can hold them.

    While `gate` is clear, every `predict` call waits for it (so requests queue up).
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        self.calls: list[int] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def predict(self, x: pd.DataFrame) -> Any:
        self.calls.append(len(x))
        self.entered.set()
        self.gate.wait(30)
        return self.estimator.predict(x)

    def predict_proba(self, x: pd.DataFrame) -> Any:
        return self.estimator.predict_proba(x)
