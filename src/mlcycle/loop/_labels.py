"""Ground truth that arrives late: match label ids to the inference log and store them.

An id is a prediction id (`<request_id>-<row>`, as the server returns
them) or, for a request of one row, its request id (stands for
`<request_id>-0`). Ids that match neither are counted, not fatal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlcycle.core import InputError
from mlcycle.serving import log_labels, read_inference_log
from mlcycle.store import Workspace


@dataclass(frozen=True)
class LabelsAdded:
    """How many labels matched a logged prediction, and a few ids that did not."""

    matched: int
    unknown: int
    unknown_examples: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {**self.__dict__, "unknown_examples": list(self.unknown_examples)}


def _known(ws: Workspace, ids: Sequence[str]) -> set[str]:
    found = read_inference_log(ws, ids) if ids else None
    return set(found["prediction_id"]) if found is not None and len(found) else set()


def add_labels(ws: Workspace, ids: Sequence[str], values: Sequence[Any]) -> LabelsAdded:
    """Store ground truth `values` for the predictions `ids` (same length).

    Raises:
        InputError: if the lengths differ.
    """
    if len(ids) != len(values):
        raise InputError(f"{len(ids)} ids but {len(values)} labels")
    ids = [str(i) for i in ids]
    direct = _known(ws, ids)
    rest = [i for i in ids if i not in direct]
    seen = _known(ws, [f"{i}-{row}" for i in rest for row in (0, 1)])
    single = {f"{i}-0" for i in rest if f"{i}-0" in seen and f"{i}-1" not in seen}
    resolved = [i if i in direct else f"{i}-0" if f"{i}-0" in single else None for i in ids]
    pairs = [(r, v) for r, v in zip(resolved, values, strict=True) if r is not None]
    if pairs:
        log_labels(ws, [p for p, _ in pairs], [v for _, v in pairs])
    unknown = [i for i, r in zip(ids, resolved, strict=True) if r is None]
    return LabelsAdded(len(pairs), len(unknown), tuple(unknown[:5]))
