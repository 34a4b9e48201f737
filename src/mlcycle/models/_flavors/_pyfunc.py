"""The `pyfunc` flavor: custom Python code, referenced by import path.

The package records the class as `module:qualname`; loading imports it
from the installed environment (never from a pickle), so the code must be
installed wherever the model is served. Contract of the class:

- `predict(frame) -> array (n_rows,)`; classifiers also
  `predict_proba(frame) -> array (n_rows, n_classes)`.
- optional `save(folder: Path) -> None`: write the artifacts it needs
  (weights, vocabularies) into `folder`;
- optional classmethod `load(folder: Path) -> instance`: rebuild from
  them; without it the class is called with no arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.core import Task
from mlcycle.models._flavors._base import Options, import_object, object_path

if TYPE_CHECKING:
    from mlcycle.models._signature import Signature

ARTIFACTS = "artifacts"


class PyfuncFlavor:
    """Custom predictors: any object with `predict(frame)`; never inferred."""

    name = "pyfunc"
    extra: str | None = None  # no framework: the user's own code

    def owns(self, model: Any) -> bool:
        return False

    def save(
        self, model: Any, folder: Path, task: Task, signature: Signature, options: Mapping[str, Any]
    ) -> Options:
        path = object_path(model)
        (folder / ARTIFACTS).mkdir()
        if hasattr(model, "save"):
            model.save(folder / ARTIFACTS)
        return {"python_class": path}

    def load(
        self, folder: Path, task: Task, signature: Signature, options: Mapping[str, Any]
    ) -> Any:
        cls = import_object(options["python_class"])
        return cls.load(folder / ARTIFACTS) if hasattr(cls, "load") else cls()

    def versions(self) -> dict[str, str]:
        return {}

    def to_onnx(self, model: Any, signature: Signature) -> bytes:
        raise NotImplementedError("custom Python code is served natively")
