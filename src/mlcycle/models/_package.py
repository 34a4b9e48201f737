"""Model packages: a folder with `model.yaml` and the estimator saved by skops.

`model.yaml` holds the flavor, task, signature, metrics, params and
lineage (run id, dataset versions, git commit). The estimator is
persisted with skops (https://skops.readthedocs.io), never raw pickle;
loading trusts only types from scikit-learn, NumPy and SciPy, so a
tampered package cannot run arbitrary code.

In the object store a package is a JSON manifest `{"files": {name: oid}}`
whose own object id is the package id: same files, same id.
"""

from __future__ import annotations

import json
import platform
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from mlcycle.core import InputError, IntegrityError, Task, atomic_write_text, new_id, now
from mlcycle.models._signature import Signature
from mlcycle.store import ObjectStore, move_into_place

FORMAT = "mlcycle-model/1"
MODEL_YAML = "model.yaml"
MODEL_FILE = "model.skops"
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.")
# skops lists the function a partial wraps as a type of its own, checked above.
TRUSTED_TYPES = frozenset({"functools.partial"})


@dataclass(frozen=True)
class ModelMeta:
    """The contents of `model.yaml`."""

    task: Task
    signature: Signature
    flavor: str = "sklearn"
    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    lineage: Mapping[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=now)

    def to_dict(self) -> dict[str, Any]:
        """Return the YAML-safe dict written to `model.yaml`."""
        import sklearn
        import skops

        return {
            "format": FORMAT,
            "flavor": self.flavor,
            "task": self.task,
            "model_file": MODEL_FILE,
            "signature": self.signature.to_dict(),
            "metrics": {k: float(v) for k, v in self.metrics.items()},
            "params": dict(self.params),
            "lineage": dict(self.lineage),
            "created_at": self.created_at,
            "versions": {
                "python": platform.python_version(),
                "scikit-learn": sklearn.__version__,
                "skops": skops.__version__,
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelMeta:
        """Inverse of :meth:`to_dict`.

        Raises:
            InputError: if the format is not one this version reads.
        """
        if data.get("format") != FORMAT:
            raise InputError(f"{MODEL_YAML}: format must be {FORMAT!r}; got {data.get('format')!r}")
        return cls(
            task=data["task"],
            signature=Signature.from_dict(data["signature"]),
            flavor=data["flavor"],
            metrics=data.get("metrics", {}),
            params=data.get("params", {}),
            lineage=data.get("lineage", {}),
            created_at=data.get("created_at", 0.0),
        )


def save_package(model: Any, meta: ModelMeta, folder: Path) -> Path:
    """Write a model package to `folder` (created; must not exist yet).

    Args:
        model: a fitted scikit-learn estimator or pipeline.
        meta: its metadata.
        folder: destination.
    """
    import skops.io

    tmp = folder.with_name(f".{folder.name}.{new_id()}")
    tmp.mkdir(parents=True)
    skops.io.dump(model, tmp / MODEL_FILE)
    atomic_write_text(tmp / MODEL_YAML, yaml.safe_dump(meta.to_dict(), sort_keys=False))
    return move_into_place(tmp, folder)


class LoadedModel:
    """A model loaded from a package, ready to predict.

    Args:
        estimator: the fitted scikit-learn estimator.
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
    """Load the package in `folder`, trusting only scikit-learn/NumPy/SciPy types.

    Raises:
        IntegrityError: if the saved model holds any other type.
    """
    import skops.io

    path = folder / MODEL_FILE
    untrusted = skops.io.get_untrusted_types(file=path)
    unsafe = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES) and t not in TRUSTED_TYPES]
    if unsafe:
        raise IntegrityError(f"{path}: refusing to load untrusted type {unsafe[0]!r}")
    return LoadedModel(skops.io.load(path, trusted=untrusted), read_meta(folder))


def store_package(objects: ObjectStore, folder: Path) -> str:
    """Store every file of a package; return the package id (its manifest's object id)."""
    files = {p.name: objects.put_file(p) for p in sorted(folder.iterdir()) if p.is_file()}
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
            objects.get_file(oid, tmp / name)
        return move_into_place(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
