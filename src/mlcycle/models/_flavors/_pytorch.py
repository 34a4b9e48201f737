"""The `pytorch` flavor: a state dict plus an importable module class, or TorchScript.

- `state_dict` (for any `torch.nn.Module`): the weights are written with
  `torch.save(module.state_dict())` and read with `torch.load(...,
  weights_only=True)`, which unpickles tensors only; the module is rebuilt
  as `CLASS(**init_args)` from its import path in the installed
  environment. Pass `init_args` in the options when the constructor needs
  arguments.
- `torchscript` (for a `torch.jit.ScriptModule`): `torch.jit.save`/`load`.
  PyTorch deprecates TorchScript (2.13 warns on save and load); it is kept
  so archives users already have can be served.

The module takes one float32 tensor (n_rows, n_inputs) in signature order.
Regressors return (n_rows,) or (n_rows, 1); classifiers return class
scores (logits) (n_rows, n_classes), turned into probabilities by softmax.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlcycle.core import Task
from mlcycle.models._flavors._base import (
    Inputs,
    Options,
    Scorer,
    class_count,
    import_object,
    numeric_matrix,
    object_path,
    require,
    require_numeric,
)

if TYPE_CHECKING:
    from mlcycle.models._signature import Signature

WEIGHTS_FILE = "weights.pt"
SCRIPT_FILE = "model.torchscript.pt"


def _quietly(call: Any, *args: Any) -> Any:
    with warnings.catch_warnings():  # TorchScript's deprecation (see module docstring)
        warnings.filterwarnings("ignore", "`torch.jit", DeprecationWarning)
        return call(*args)


class PyTorchFlavor:
    """PyTorch modules run on CPU in inference mode."""

    name = "pytorch"
    extra: str | None = "torch"

    def owns(self, model: Any) -> bool:
        return any(c.__module__.startswith("torch.nn") for c in type(model).__mro__)

    def save(
        self, model: Any, folder: Path, task: Task, signature: Signature, options: Mapping[str, Any]
    ) -> Options:
        torch = require("torch", self.extra)
        require_numeric(signature, self.name)
        class_count(task, signature)
        if isinstance(model, torch.jit.ScriptModule):
            _quietly(torch.jit.save, model, str(folder / SCRIPT_FILE))
            return {"mode": "torchscript", "model_file": SCRIPT_FILE}
        torch.save(model.state_dict(), folder / WEIGHTS_FILE)
        init_args = dict(options.get("init_args", {}))
        return {
            "mode": "state_dict",
            "model_file": WEIGHTS_FILE,
            "module_class": object_path(model),
            "init_args": init_args,
        }

    def _module(self, folder: Path, options: Mapping[str, Any]) -> Any:
        torch = require("torch", self.extra)
        if options["mode"] == "torchscript":
            return _quietly(torch.jit.load, str(folder / SCRIPT_FILE), "cpu")
        module = import_object(options["module_class"])(**options.get("init_args", {}))
        module.load_state_dict(torch.load(folder / WEIGHTS_FILE, weights_only=True))
        return module

    def load(
        self, folder: Path, task: Task, signature: Signature, options: Mapping[str, Any]
    ) -> Any:
        torch = require("torch", self.extra)
        module = self._module(folder, options).eval()
        classify = task == "classification"

        def score(frame: Inputs) -> np.ndarray:
            with torch.inference_mode():
                out = module(torch.tensor(numeric_matrix(frame, signature, np.float32)))
                return (torch.softmax(out, dim=1) if classify else out).numpy()  # type: ignore[no-any-return]

        return Scorer(score, task, signature)

    def versions(self) -> dict[str, str]:
        return {"torch": str(require("torch", self.extra).__version__)}  # a str subclass

    def to_onnx(self, model: Any, signature: Signature) -> bytes:
        raise NotImplementedError("PyTorch models are served natively (see docs/flavors.md)")
