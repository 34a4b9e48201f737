"""Model flavors: one per framework, chosen by name or inferred from the model's class.

| flavor | accepts | file | extra |
|---|---|---|---|
| sklearn | estimators, pipelines | model.skops | (core) |
| lightgbm | Booster, LGBMModel | model.lgb.txt | lightgbm |
| xgboost | Booster, XGBModel | model.xgb.json | xgboost |
| pytorch | nn.Module, ScriptModule | weights.pt / model.torchscript.pt | torch |
| onnx | onnx.ModelProto | model.onnx | onnx |
| pyfunc | any class with predict(frame) | artifacts/ | - |
"""

from __future__ import annotations

from typing import Any

from mlcycle.core import InputError
from mlcycle.models._flavors._base import Flavor, Scorer, require
from mlcycle.models._flavors._lightgbm import LightGBMFlavor
from mlcycle.models._flavors._onnx import OnnxFlavor, onnx_scorer
from mlcycle.models._flavors._pyfunc import PyfuncFlavor
from mlcycle.models._flavors._pytorch import PyTorchFlavor
from mlcycle.models._flavors._sklearn import SklearnFlavor
from mlcycle.models._flavors._xgboost import XGBoostFlavor

FLAVORS: dict[str, Flavor] = {
    f.name: f
    for f in (
        LightGBMFlavor(),
        XGBoostFlavor(),
        PyTorchFlavor(),
        OnnxFlavor(),
        SklearnFlavor(),
        PyfuncFlavor(),
    )
}


def get_flavor(name: str) -> Flavor:
    """The flavor called `name`.

    Raises:
        InputError: for an unknown name (the message lists the known ones).
    """
    try:
        return FLAVORS[name]
    except KeyError:
        raise InputError(
            f"unknown model flavor {name!r}; use one of {', '.join(FLAVORS)}"
        ) from None


def infer_flavor(model: Any) -> str:
    """The flavor of `model` from its class (LightGBM's and XGBoost's scikit-learn
    wrappers are their own frameworks' flavors, not `sklearn`).

    Raises:
        InputError: if no flavor owns it (pass `flavor="pyfunc"` for custom code).
    """
    for flavor in FLAVORS.values():
        if flavor.owns(model):
            return flavor.name
    raise InputError(
        f"no model flavor for {type(model).__module__}.{type(model).__qualname__}; "
        "pass flavor='pyfunc' for custom Python code"
    )


def flavor_extra(name: str) -> str | None:
    """The pip extra serving a `name` model needs (None when core dependencies suffice)."""
    return get_flavor(name).extra


__all__ = [
    "FLAVORS",
    "Flavor",
    "Scorer",
    "flavor_extra",
    "get_flavor",
    "infer_flavor",
    "onnx_scorer",
    "require",
]
