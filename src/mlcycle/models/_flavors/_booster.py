"""What the gradient-boosting flavors share: a booster saved in its library's own format.

LightGBM and XGBoost both accept a Booster or a fitted scikit-learn-API
model, save the booster with `save_model` (plain data, nothing
executable), and take numeric inputs only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.core import Task
from mlcycle.models._flavors._base import Options, class_count, module_of, require, require_numeric

if TYPE_CHECKING:
    from mlcycle.models._signature import Signature


class BoosterFlavor:
    """A flavor whose model is its library's Booster (see the subclasses).

    Subclasses set `name`, `extra` (also the library's module name) and
    `model_file`, and say how to get the Booster out of a model.
    """

    name: str
    extra: str | None
    model_file: str

    def booster(self, model: Any) -> Any:
        """The Booster of `model` (a Booster or a scikit-learn-API model)."""
        raise NotImplementedError

    def owns(self, model: Any) -> bool:
        return module_of(model) == self.name

    def save(
        self, model: Any, folder: Path, task: Task, signature: Signature, options: Mapping[str, Any]
    ) -> Options:
        require_numeric(signature, self.name)
        class_count(task, signature)
        self.booster(model).save_model(str(folder / self.model_file))
        return {"model_file": self.model_file}

    def versions(self) -> dict[str, str]:
        return {self.name: require(self.name, self.extra).__version__}
