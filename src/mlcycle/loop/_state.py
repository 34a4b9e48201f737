"""What the loop knows about the model in production, and the rows it retrains on."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from mlcycle.core import DataConfig, ServingError
from mlcycle.loop._client import ReplayClient
from mlcycle.pipeline import Trained, Xy


@dataclass(frozen=True)
class Production:
    """The production model as the loop sees it.

    `reference` holds the features (n_rows, n_features) the model was
    trained on: the reference window for drift; `reference_predictions`
    its predictions there (n_rows,); `reference_metric` its primary metric
    on held-out rows, the yardstick of performance decay.
    """

    version: int
    estimator: Any
    family: Any
    params: dict[str, Any]
    classes: tuple[Any, ...] | None
    reference: pd.DataFrame
    reference_predictions: np.ndarray
    reference_metric: float

    @classmethod
    def initial(cls, trained: Trained, train: Xy, metric: str) -> Production:
        """The first model, fresh from AutoML (`trained.result` must be set).

        Raises:
            ValueError: if `trained` did not come from an AutoML search.
        """
        result = trained.result
        if result is None:
            raise ValueError("Production.initial needs the result of an AutoML search")
        return cls(
            trained.version.version,
            trained.model,
            result.family,
            dict(result.params),
            _classes(trained.model),
            train.X,
            trained.model.predict(train.X),
            result.holdout[metric],
        )

    def replaced(self, cand: Trained, train: Xy, metric: float) -> Production:
        """The production model after `cand` (trained on `train`) was promoted."""
        return replace(
            self,
            version=cand.version.version,
            estimator=cand.model,
            classes=_classes(cand.model),
            reference=train.X,
            reference_predictions=cand.model.predict(train.X),
            reference_metric=metric,
        )


def _classes(model: Any) -> tuple[Any, ...] | None:
    classes = getattr(model, "classes_", None)
    return tuple(classes) if classes is not None else None


def retrain_rows(
    history: Sequence[pd.DataFrame], data: DataConfig, days: int | None
) -> pd.DataFrame:
    """All labeled rows seen so far, or those of the last `days` days when set."""
    rows = pd.concat(history, ignore_index=True)
    if days is None or data.time_column is None:
        return rows
    times = pd.to_datetime(rows[data.time_column])
    return rows[times >= times.max() - pd.Timedelta(days=days)].reset_index(drop=True)


def wait_for_version(client: ReplayClient, model: str, version: int, timeout: float = 30.0) -> None:
    """Poll the server until it serves `version` (after a promotion).

    Raises:
        ServingError: if it does not within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while client.served_version(model) != version:
        if time.monotonic() > deadline:
            raise ServingError(
                f"the server did not switch to version {version} within {timeout:g} s"
            )
        time.sleep(0.05)
