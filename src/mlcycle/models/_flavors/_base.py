"""What every flavor shares: the contract, lazy framework imports, the scorer adapter.

A flavor knows how to write one framework's fitted model into a package
folder and how to read it back as an object with the scikit-learn
prediction interface the server calls (`predict(frame) -> (n,)` and
`predict_proba(frame) -> (n, k)`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from mlcycle.core import ConfigError, InputError, Task

if TYPE_CHECKING:
    from mlcycle.models._signature import Signature

#: Options a flavor records in `model.yaml` (YAML-safe values only).
Options = dict[str, Any]
#: Validated model inputs: a frame, or a float64 matrix (n_rows, n_inputs) in signature order.
Inputs = pd.DataFrame | np.ndarray


class Flavor(Protocol):
    """How one framework's models are saved into and loaded from a package folder.

    Contract: `save` writes only inside `folder` and returns the options
    `load` needs (YAML-safe); `load` reads only `folder`, never unpickles
    untrusted bytes, and returns an object with `predict(frame)` shape
    (n_rows,) and, for classifiers, `predict_proba(frame)` shape
    (n_rows, n_classes) in `signature.classes` order. Frameworks are
    imported inside the methods, never at module import.
    """

    name: str
    #: The `pip install 'mlcycle[EXTRA]'` extra that brings the framework (None: core).
    extra: str | None

    def owns(self, model: Any) -> bool:
        """Whether `model` is a model of this framework (checked without importing it)."""
        ...

    def save(
        self, model: Any, folder: Path, task: Task, signature: Signature, options: Mapping[str, Any]
    ) -> Options:
        """Write `model` into `folder`; return the options to record."""
        ...

    def load(
        self, folder: Path, task: Task, signature: Signature, options: Mapping[str, Any]
    ) -> Any:
        """Read the model back as a predictor."""
        ...

    def versions(self) -> dict[str, str]:
        """Framework versions to record in `model.yaml`."""
        ...

    def to_onnx(self, model: Any, signature: Signature) -> bytes:
        """The model converted to ONNX bytes.

        Raises:
            Exception: whatever the converter raises for an unsupported model.
        """
        ...


def require(module: str, extra: str | None) -> ModuleType:
    """Import `module`, or fail with the extra that installs it (`extra` None: the module).

    Raises:
        ConfigError: if the module is not installed (exit code 2).
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        package = f"'mlcycle[{extra}]'" if extra else module.split(".")[0]
        raise ConfigError(
            f"this model needs {module.split('.')[0]}: pip install {package}"
        ) from None


def module_of(model: Any) -> str:
    """The top-level package of `model`'s class, e.g. 'lightgbm'."""
    return type(model).__module__.split(".")[0]


def numeric_matrix(
    inputs: pd.DataFrame | np.ndarray, signature: Signature, dtype: Any = np.float64
) -> np.ndarray:
    """The input columns in model order as one (n_rows, n_inputs) array of `dtype`.

    `inputs` is a frame with (at least) the signature's columns, or already a
    matrix (n_rows, n_inputs) in signature order (converted without a copy
    when it has `dtype`).
    """
    if isinstance(inputs, np.ndarray):
        return inputs.astype(dtype, copy=False)
    return inputs[signature.input_names].to_numpy(dtype=dtype)


def require_numeric(signature: Signature, flavor: str) -> None:
    """Raises InputError unless every input column is numeric (float64/int64/bool)."""
    strings = [c.name for c in signature.inputs if c.dtype == "string"]
    if strings:
        raise InputError(
            f"the {flavor} flavor takes numeric inputs only; column '{strings[0]}' is string "
            "(encode it first, or use the sklearn or pyfunc flavor)"
        )


def class_count(task: Task, signature: Signature) -> int | None:
    """The number of classes of a classifier, None for regression.

    Raises:
        InputError: if a classifier's signature lists no classes.
    """
    if task != "classification":
        return None
    if not signature.classes:
        raise InputError("a classification model's signature must list its classes")
    return len(signature.classes)


class Scorer:
    """The scikit-learn interface over a function returning raw model outputs.

    Args:
        score: maps the inputs (a frame with the input columns, or a float64
            matrix (n_rows, n_inputs) in signature order) to the model's
            output: values (n_rows,) or (n_rows, 1) for regression; for
            classification the probability of the second class (n_rows,)
            when binary, else probabilities (n_rows, n_classes).
        task: `regression` or `classification`.
        signature: the model's signature (classes for labels).
    """

    #: `score` takes a numeric matrix as well as a frame (the server skips pandas).
    takes_matrix = True

    def __init__(
        self, score: Callable[[Inputs], np.ndarray], task: Task, signature: Signature
    ) -> None:
        self._score = score
        self._task = task
        self._classes = np.asarray(signature.classes) if signature.classes else None

    def outputs(self, inputs: Inputs) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions (n_rows,) and, for classifiers, probabilities (n_rows, n_classes)
        from one call of the model (labels are the argmax of the probabilities)."""
        if self._task != "classification":
            return np.asarray(self._score(inputs), dtype=np.float64).reshape(len(inputs)), None
        proba = self.predict_proba(inputs)
        labels = (
            proba.argmax(axis=1) if self._classes is None else self._classes[proba.argmax(axis=1)]
        )
        return np.asarray(labels), proba

    def predict(self, inputs: Inputs) -> np.ndarray:
        """Values (regression) or class labels (argmax of probabilities), shape (n_rows,)."""
        return self.outputs(inputs)[0]

    def predict_proba(self, inputs: Inputs) -> np.ndarray:
        """Class probabilities, shape (n_rows, n_classes), float64.

        Raises:
            InputError: for a regression model.
        """
        if self._task != "classification":
            raise InputError("predict_proba needs a classification model")
        out = np.asarray(self._score(inputs), dtype=np.float64)
        if out.ndim == 1 or out.shape[1] == 1:
            positive = out.reshape(len(inputs))
            return np.column_stack([1.0 - positive, positive])
        return out


def import_object(path: str) -> Any:
    """The object at `module:qualname` from the installed environment (never from a pickle).

    Raises:
        InputError: if the module or name cannot be imported.
    """
    module_name, _, qualname = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as err:
        raise InputError(f"cannot import {path!r} for this model: {err}") from None
    return target


def object_path(obj: Any) -> str:
    """The `module:qualname` of `obj`'s class, checked to be importable again.

    Raises:
        InputError: if the class lives in `__main__` or a function body.
    """
    cls = type(obj)
    path = f"{cls.__module__}:{cls.__qualname__}"
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        raise InputError(f"class {path} must live in an importable module to be packaged")
    return path
