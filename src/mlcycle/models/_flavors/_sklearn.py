"""The `sklearn` flavor: a scikit-learn estimator or pipeline saved with skops.

skops (https://skops.readthedocs.io) writes the estimator without raw
pickle; loading trusts only types from scikit-learn, NumPy and SciPy, so a
tampered package cannot run arbitrary code.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.core import IntegrityError, Task
from mlcycle.models._flavors._base import Options, module_of

if TYPE_CHECKING:
    from mlcycle.models._signature import Signature

MODEL_FILE = "model.skops"
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.")
# skops lists the function a partial wraps as a type of its own, checked above.
TRUSTED_TYPES = frozenset({"functools.partial"})


class SklearnFlavor:
    """scikit-learn estimators and pipelines (skops format, no pickle)."""

    name = "sklearn"
    extra: str | None = None  # scikit-learn and skops are core dependencies

    def owns(self, model: Any) -> bool:
        return module_of(model) == "sklearn"

    def save(
        self, model: Any, folder: Path, task: Task, signature: Signature, options: Mapping[str, Any]
    ) -> Options:
        import skops.io

        skops.io.dump(model, folder / MODEL_FILE)
        return {"model_file": MODEL_FILE}

    def load(
        self, folder: Path, task: Task, signature: Signature, options: Mapping[str, Any]
    ) -> Any:
        """The estimator itself (it already speaks predict/predict_proba).

        Raises:
            IntegrityError: if the saved model holds a type outside scikit-learn/NumPy/SciPy.
        """
        import skops.io

        path = folder / MODEL_FILE
        untrusted = skops.io.get_untrusted_types(file=path)
        unsafe = [
            t for t in untrusted if not t.startswith(TRUSTED_PREFIXES) and t not in TRUSTED_TYPES
        ]
        if unsafe:
            raise IntegrityError(f"{path}: refusing to load untrusted type {unsafe[0]!r}")
        return skops.io.load(path, trusted=untrusted)

    def versions(self) -> dict[str, str]:
        import sklearn
        import skops

        return {"scikit-learn": sklearn.__version__, "skops": skops.__version__}

    def to_onnx(self, model: Any, signature: Signature) -> bytes:
        """skl2onnx: one (n_rows, n_inputs) float tensor when every input is numeric and
        the model takes a matrix, else one named (n_rows, 1) input per column (so a
        ColumnTransformer that selects columns by name converts).

        Raises:
            Exception: whatever skl2onnx raises for an unsupported model.
        """
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType, StringTensorType

        final = model.steps[-1][1] if hasattr(model, "steps") else model
        options = {id(final): {"zipmap": False}} if hasattr(final, "predict_proba") else None
        if all(c.dtype != "string" for c in signature.inputs):
            matrix = [("input", FloatTensorType([None, len(signature.inputs)]))]
            try:
                return bytes(convert_sklearn(model, initial_types=matrix, options=options)
                             .SerializeToString())  # fmt: skip
            except Exception:  # e.g. a ColumnTransformer by name: try one input per column
                pass
        types = [
            (
                c.name,
                StringTensorType([None, 1]) if c.dtype == "string" else FloatTensorType([None, 1]),
            )
            for c in signature.inputs
        ]
        onnx_model = convert_sklearn(model, initial_types=types, options=options)
        return bytes(onnx_model.SerializeToString())
