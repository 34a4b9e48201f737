"""Model packages: a folder with `model.yaml` and the model in its flavor's format.

`model.yaml` holds the flavor, task, signature, metrics, params, lineage
(run id, dataset versions, git commit) and the runtime (`native` or
`onnx`). Models are never persisted as raw pickle: scikit-learn through
skops (loading trusts only scikit-learn, NumPy and SciPy types), the
other frameworks in their own data formats (see :mod:`mlcycle.models._flavors`).
When packaged with evaluation data, a model is also converted to ONNX and
served by onnxruntime if the conversion is faithful (see
:mod:`mlcycle.models._onnx_check`).

In the object store a package is a JSON manifest `{"files": {path: oid}}`
whose own object id is the package id: same files, same id.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import platform
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml

from mlcycle.core import InputError, IntegrityError, Task, atomic_write_text, new_id, now
from mlcycle.models._flavors import Flavor, get_flavor, infer_flavor, onnx_scorer
from mlcycle.models._flavors._base import Inputs, Scorer
from mlcycle.models._flavors._onnx import MODEL_FILE as ONNX_FILE
from mlcycle.models._flavors._sklearn import MODEL_FILE as MODEL_FILE  # re-exported
from mlcycle.models._flavors._sklearn import TRUSTED_PREFIXES as TRUSTED_PREFIXES
from mlcycle.models._flavors._sklearn import TRUSTED_TYPES as TRUSTED_TYPES
from mlcycle.models._onnx_check import try_onnx
from mlcycle.models._signature import Signature
from mlcycle.store import ObjectStore, move_into_place

FORMAT = "mlcycle-model/1"
MODEL_YAML = "model.yaml"
Runtime = Literal["native", "onnx"]
log = logging.getLogger("mlcycle.models")


@dataclass(frozen=True)
class ModelMeta:
    """The contents of `model.yaml`.

    Attributes:
        flavor: the framework format (see :data:`mlcycle.models.FLAVORS`);
            None means inferred from the model when it is saved.
        runtime: `onnx` if the package holds a faithful `model.onnx` served
            by onnxruntime, else `native`.
        onnx_max_diff: the largest |onnx - native| output difference measured
            on the evaluation data (None if no conversion was tried or it failed).
        options: flavor-specific settings (model file, module class, ...).
    """

    task: Task
    signature: Signature
    flavor: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    lineage: Mapping[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=now)
    runtime: Runtime = "native"
    onnx_max_diff: float | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the YAML-safe dict written to `model.yaml`.

        Raises:
            InputError: if the flavor is still unresolved (None).
        """
        if self.flavor is None:
            raise InputError("ModelMeta.flavor must be set before writing model.yaml")
        return {
            "format": FORMAT,
            "flavor": self.flavor,
            "task": self.task,
            **dict(self.options),
            "runtime": self.runtime,
            "onnx_max_diff": self.onnx_max_diff,
            "signature": self.signature.to_dict(),
            "metrics": {k: float(v) for k, v in self.metrics.items()},
            "params": dict(self.params),
            "lineage": dict(self.lineage),
            "created_at": self.created_at,
            "versions": {"python": platform.python_version(), **get_flavor(self.flavor).versions()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelMeta:
        """Inverse of :meth:`to_dict`.

        Raises:
            InputError: if the format is not one this version reads.
        """
        if data.get("format") != FORMAT:
            raise InputError(f"{MODEL_YAML}: format must be {FORMAT!r}; got {data.get('format')!r}")
        fields = {f.name for f in dataclasses.fields(cls)} | {"format", "versions"}
        return cls(
            task=data["task"],
            signature=Signature.from_dict(data["signature"]),
            flavor=data["flavor"],
            metrics=data.get("metrics", {}),
            params=data.get("params", {}),
            lineage=data.get("lineage", {}),
            created_at=data.get("created_at", 0.0),
            runtime=data.get("runtime", "native"),
            onnx_max_diff=data.get("onnx_max_diff"),
            options={k: v for k, v in data.items() if k not in fields},
        )


def save_package(
    model: Any, meta: ModelMeta, folder: Path, *, evaluation_data: pd.DataFrame | None = None
) -> Path:
    """Write a model package to `folder` (created atomically; must not exist yet).

    Args:
        model: a fitted model of any flavor.
        meta: its metadata; `meta.flavor` None infers the flavor from the model,
            `meta.options` carries flavor options (e.g. PyTorch `init_args`).
        folder: destination.
        evaluation_data: rows (n_rows, >= n_inputs columns) to check an ONNX
            conversion on; without them the model is served natively.

    Raises:
        InputError: if no flavor fits the model or its signature (e.g. string
            inputs for a tree-library flavor).
    """
    flavor = get_flavor(meta.flavor or infer_flavor(model))
    tmp = folder.with_name(f".{folder.name}.{new_id()}")
    tmp.mkdir(parents=True)
    try:
        options = flavor.save(model, tmp, meta.task, meta.signature, meta.options)
        meta = dataclasses.replace(meta, flavor=flavor.name, options=options)
        if flavor.name == "onnx":
            meta = dataclasses.replace(meta, runtime="onnx")
        elif evaluation_data is not None:
            meta = _accelerate(flavor, model, meta, tmp, evaluation_data)
        atomic_write_text(tmp / MODEL_YAML, yaml.safe_dump(meta.to_dict(), sort_keys=False))
        return move_into_place(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _accelerate(
    flavor: Flavor, model: Any, meta: ModelMeta, folder: Path, evaluation: pd.DataFrame
) -> ModelMeta:
    native = flavor.load(folder, meta.task, meta.signature, meta.options)
    frame = meta.signature.validate(evaluation)
    check = try_onnx(flavor, model, native, folder, meta.task, meta.signature, frame)
    return dataclasses.replace(
        meta, runtime="onnx" if check.faithful else "native", onnx_max_diff=check.max_diff
    )


def save_model(
    model: Any,
    folder: Path,
    *,
    task: Task,
    signature: Signature,
    flavor: str | None = None,
    evaluation_data: pd.DataFrame | None = None,
    options: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
) -> Path:
    """Package `model` in `folder`: the one-call form of :func:`save_package`.

    Args:
        model: a fitted model: scikit-learn, LightGBM, XGBoost, PyTorch, ONNX,
            or any object with `predict(frame)` (with `flavor="pyfunc"`).
        folder: destination (must not exist).
        task: `regression` or `classification`.
        signature: inputs, output and classes (see :meth:`Signature.infer`).
        flavor: a name from :data:`FLAVORS`; None infers it from the model's class.
        evaluation_data: rows to check an ONNX conversion on (see :func:`save_package`).
        options: flavor options, e.g. `{"init_args": {...}}` for a PyTorch module.
        metrics: evaluation metrics to record.

    Returns:
        The package folder.

    Raises:
        InputError: as :func:`save_package`.
    """
    meta = ModelMeta(task, signature, flavor, metrics or {}, options=options or {})
    return save_package(model, meta, folder, evaluation_data=evaluation_data)


class LoadedModel:
    """A model loaded from a package, ready to predict.

    Args:
        estimator: the predictor: the scikit-learn estimator itself, or an
            adapter with `predict(frame) -> (n_rows,)` and
            `predict_proba(frame) -> (n_rows, n_classes)` over the
            validated input frame.
        meta: the package metadata (signature, task, metrics, lineage).
    """

    def __init__(self, estimator: Any, meta: ModelMeta) -> None:
        self.estimator = estimator
        self.meta = meta

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predict for `frame` (n_rows, >= n_inputs columns); returns shape (n_rows,).

        Raises:
            SignatureError: if an input column is missing or mistyped.
        """
        result: np.ndarray = self.estimator.predict(self.meta.signature.validate(frame))
        return result

    def outputs(self, inputs: Inputs) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions (n_rows,) and, for classifiers, probabilities (n_rows, n_classes).

        Args:
            inputs: validated rows: a frame from :meth:`Signature.validate`, or,
                when every input is numeric, their float64 matrix (n_rows,
                n_inputs) in signature order (what the model server builds
                without pandas). Models that take matrices (ONNX, LightGBM,
                XGBoost, PyTorch) get it as is; others get a frame of it.

        Scorers (every flavor but sklearn and pyfunc) answer both from one
        model call; a scikit-learn estimator is asked twice, since its
        `predict` need not be the argmax of `predict_proba` (e.g. SVC).
        """
        estimator = self.estimator
        if isinstance(inputs, np.ndarray) and not getattr(estimator, "takes_matrix", False):
            inputs = pd.DataFrame(inputs, columns=self.meta.signature.input_names, copy=False)
        if isinstance(estimator, Scorer):
            return estimator.outputs(inputs)
        predictions = np.asarray(estimator.predict(inputs))
        if self.meta.task != "classification":
            return predictions, None
        return predictions, np.asarray(estimator.predict_proba(inputs))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities, shape (n_rows, n_classes) in `signature.classes` order.

        Raises:
            InputError: for a regression model.
        """
        if self.meta.task != "classification":
            raise InputError("predict_proba needs a classification model")
        result: np.ndarray = self.estimator.predict_proba(self.meta.signature.validate(frame))
        return result


def read_meta(folder: Path) -> ModelMeta:
    """Read `model.yaml` of the package in `folder`."""
    return ModelMeta.from_dict(yaml.safe_load((folder / MODEL_YAML).read_text(encoding="utf-8")))


def load_package(folder: Path) -> LoadedModel:
    """Load the package in `folder`: through onnxruntime when its runtime is `onnx` and
    onnxruntime is installed, else with the flavor's own framework.

    Raises:
        IntegrityError: if a scikit-learn model holds a type outside
            scikit-learn/NumPy/SciPy.
        ConfigError: if the flavor's framework is not installed (the message
            names the extra to install).
    """
    meta = read_meta(folder)
    if meta.runtime == "onnx" and (
        meta.flavor == "onnx" or importlib.util.find_spec("onnxruntime") is not None
    ):
        return LoadedModel(onnx_scorer(folder / ONNX_FILE, meta.task, meta.signature), meta)
    if meta.runtime == "onnx":
        log.info("onnxruntime is not installed: serving %s natively", folder)
    flavor = get_flavor(meta.flavor or "sklearn")  # model.yaml always names it
    return LoadedModel(flavor.load(folder, meta.task, meta.signature, meta.options), meta)


def store_package(objects: ObjectStore, folder: Path) -> str:
    """Store every file of a package; return the package id (its manifest's object id)."""
    files = {
        p.relative_to(folder).as_posix(): objects.put_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
    return objects.put_bytes(json.dumps({"files": files}, sort_keys=True).encode())


def fetch_package(objects: ObjectStore, package_id: str, cache: Path) -> Path:
    """Materialize package `package_id` under `cache/<package_id>` (hash-verified, atomic).

    Raises:
        NotFound: if the package or one of its files is not stored.
        IntegrityError: if any stored bytes are corrupt.
    """
    target = cache / package_id
    if target.exists():
        return target
    manifest = json.loads(objects.get_bytes(package_id))
    tmp = cache / f".{package_id}.{new_id()}"
    try:
        for name, oid in manifest["files"].items():
            objects.get_file(oid, tmp / _safe_relative(name))
        return move_into_place(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _safe_relative(name: str) -> str:
    """`name` if it is a relative path inside the package.

    Raises:
        IntegrityError: for absolute paths or `..` parts (a forged manifest).
    """
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise IntegrityError(f"package manifest names a file outside the package: {name!r}")
    return name
