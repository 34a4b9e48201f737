"""The served model, following a registry alias with hot swaps.

The deployment's poller calls :meth:`ModelHolder.refresh` every
`poll_seconds`. When the alias moved, the new version is loaded and warmed
(one prediction) while the old one keeps serving; then a single reference
assignment swaps them, so requests in flight finish on the old model and
no request fails.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from mlcycle.core import ModelNotFound
from mlcycle.models import LoadedModel, fetch_package, load_package
from mlcycle.registry import alias_version, get_model_version
from mlcycle.store import Workspace

log = logging.getLogger("mlcycle.serving")


@dataclass(frozen=True)
class Served:
    """The model currently served: registry name, version and the loaded model."""

    name: str
    version: int
    model: LoadedModel


def parse_model_ref(ref: str) -> tuple[str, str | None, int | None]:
    """Split `NAME@ALIAS` or `NAME@VERSION` into (name, alias, version).

    Raises:
        ModelNotFound: if `ref` has no name.
    """
    name, _, selector = ref.partition("@")
    if not name:
        raise ModelNotFound(f"Model reference {ref!r} has no model name (use NAME@ALIAS)")
    if selector.isdigit():
        return name, None, int(selector)
    return name, selector or "production", None


def _warm(model: LoadedModel) -> None:
    row = {c.name: (0.0 if c.dtype != "string" else "") for c in model.meta.signature.inputs}
    model.predict(pd.DataFrame([row]))


SwapListener = Callable[["ModelHolder", Served, Served], None]


class ModelHolder:
    """Holds one served model version and follows its alias.

    `current` is replaced by a single reference assignment, so a request
    that read it keeps its `Served` (and finishes on it) while new
    requests get the new one; the old version is freed once the last
    request holding it returns. `Served` objects never change.

    Args:
        ws: the workspace whose registry and object store hold the model.
        ref: `NAME@ALIAS` (followed) or `NAME@VERSION` (pinned).

    Raises:
        ModelNotFound: if the model, alias or version does not exist.
    """

    def __init__(self, ws: Workspace, ref: str) -> None:
        self.ws = ws
        self.ref = ref
        self.name, self.alias, pinned = parse_model_ref(ref)
        self.current = self._load(pinned if pinned is not None else self._alias_target())
        self._listeners: list[SwapListener] = []
        self._lock = threading.Lock()  # the poller and a rollback may refresh at once

    def _alias_target(self) -> int:
        if self.alias is None:
            raise ModelNotFound(f"{self.ref} is pinned to a version; it has no alias to follow")
        return alias_version(self.ws, self.name, self.alias)

    def _load(self, version: int) -> Served:
        record = get_model_version(self.ws, self.name, version)
        folder = fetch_package(self.ws.objects, record.package_id, self.ws.state_dir / "packages")
        model = load_package(folder)
        _warm(model)
        return Served(self.name, version, model)

    def on_swap(self, listener: SwapListener) -> None:
        """Call `listener(holder, old, new)` after every swap (in the swapping thread)."""
        self._listeners.append(listener)

    def refresh(self) -> bool:
        """Swap in the alias's version if it moved; return whether it did.

        The new version is loaded and warmed before the swap; if that
        fails the error propagates and the current version keeps serving.

        Raises:
            MlcycleError: if the alias cannot be read or the new version cannot be loaded.
        """
        if self.alias is None:
            return False
        with self._lock:
            target = self._alias_target()
            if target == self.current.version:
                return False
            old, new = self.current, self._load(target)
            self.current = new
        log.warning("%s moved: now serving version %d (was %d)", self.ref, target, old.version)
        for listener in self._listeners:
            listener(self, old, new)
        return True
