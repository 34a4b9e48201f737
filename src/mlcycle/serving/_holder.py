"""The served model, following a registry alias with hot swaps.

A poller thread checks the alias every `poll_seconds`. When it moves, the
new version is loaded and warmed (one prediction) while the old one keeps
serving; then a single reference assignment swaps them, so requests in
flight finish on the old model and no request fails.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import pandas as pd

from mlcycle.core import MlcycleError, ModelNotFound
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


class ModelHolder:
    """Holds the served model and follows its alias.

    Args:
        ws: the workspace whose registry and object store hold the model.
        ref: `NAME@ALIAS` (followed) or `NAME@VERSION` (pinned).

    Raises:
        ModelNotFound: if the model, alias or version does not exist.
    """

    def __init__(self, ws: Workspace, ref: str) -> None:
        self.ws = ws
        self.name, self.alias, pinned = parse_model_ref(ref)
        self.current = self._load(pinned if pinned is not None else self._alias_target())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _alias_target(self) -> int:
        assert self.alias is not None
        return alias_version(self.ws, self.name, self.alias)

    def _load(self, version: int) -> Served:
        record = get_model_version(self.ws, self.name, version)
        folder = fetch_package(self.ws.objects, record.package_id, self.ws.state_dir / "packages")
        model = load_package(folder)
        _warm(model)
        return Served(self.name, version, model)

    def refresh(self) -> bool:
        """Swap in the alias's version if it moved; return whether it did."""
        if self.alias is None:
            return False
        target = self._alias_target()
        if target == self.current.version:
            return False
        loaded = self._load(target)
        old, self.current = self.current.version, loaded
        log.warning(
            "%s@%s moved: now serving version %d (was %d)", self.name, self.alias, target, old
        )
        return True

    def _poll(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            try:
                self.refresh()
            except MlcycleError as err:  # keep serving the current version
                log.error(
                    "alias check failed, still serving version %d: %s", self.current.version, err
                )

    def start(self, poll_seconds: float) -> None:
        """Start following the alias in a daemon thread."""
        if self.alias is not None and self._thread is None:
            self._thread = threading.Thread(target=self._poll, args=(poll_seconds,), daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop following the alias."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
