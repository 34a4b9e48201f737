"""Evaluation metrics of regression and classification models (scikit-learn's).

Used to score models at training time and live predictions in monitoring.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mlcycle.core import DataError, Task

PRIMARY_METRIC: dict[str, str] = {"regression": "mae", "classification": "log_loss"}
"""The metric the loop watches per task; both are lower-is-better."""


def _as_1d(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    true, pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if true.size == 0:
        raise DataError("no labeled rows in the window")
    if true.size != pred.size:
        raise DataError(f"y_true has {true.size} rows but y_pred has {pred.size}")
    return true, pred


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    """Mean absolute error and root mean squared error.

    Formulas: ``mae = mean(|y - y_hat|)``, ``rmse = sqrt(mean((y - y_hat)^2))``
    (:func:`sklearn.metrics.mean_absolute_error`,
    :func:`sklearn.metrics.root_mean_squared_error`); both in the target's unit.

    Args:
        y_true: true targets, shape (n_rows,), numbers.
        y_pred: predictions, shape (n_rows,), numbers.

    Returns:
        ``{"mae": float, "rmse": float}``.

    Raises:
        DataError: if there are no rows, the lengths differ or values are not numbers.
    """
    true, pred = _as_1d(y_true, y_pred)
    from sklearn.metrics import mean_absolute_error, root_mean_squared_error

    try:
        true, pred = true.astype(np.float64), pred.astype(np.float64)
    except (TypeError, ValueError) as err:
        raise DataError(f"regression targets must be numbers: {err}") from None
    return {
        "mae": float(mean_absolute_error(true, pred)),
        "rmse": float(root_mean_squared_error(true, pred)),
    }


def _log_loss(true: np.ndarray, proba: Any, classes: Sequence[Any] | None) -> float:
    from sklearn.metrics import log_loss

    prob = np.asarray(proba, dtype=np.float64)
    if prob.ndim != 2 or prob.shape[0] != true.size:
        raise DataError(f"proba must have shape ({true.size}, n_classes), got {prob.shape}")
    if classes is not None and prob.shape[1] != len(classes):
        raise DataError(f"proba has {prob.shape[1]} columns but there are {len(classes)} classes")
    labels = None if classes is None else list(classes)
    if labels is not None:
        # A label the model never saw had probability 0: add its column so the
        # loss counts it (clipped by scikit-learn) instead of refusing the window.
        unseen = [c for c in dict.fromkeys(true.tolist()) if c not in labels]
        prob = np.hstack([prob, np.zeros((prob.shape[0], len(unseen)))])
        labels += unseen
    try:
        return float(log_loss(true, prob, labels=labels))
    except ValueError as err:
        raise DataError(f"cannot compute log_loss: {err}") from None


def classification_metrics(
    y_true: Any,
    y_pred: Any,
    proba: np.ndarray | None = None,
    classes: Sequence[Any] | None = None,
) -> dict[str, float]:
    """Accuracy, macro F1 and, given probabilities, log loss.

    Formulas: accuracy = share of exact matches
    (:func:`sklearn.metrics.accuracy_score`); F1 is the unweighted mean
    over labels of ``2PR/(P+R)`` (:func:`sklearn.metrics.f1_score`,
    ``average="macro"``, ``zero_division=0``); log loss is
    ``-mean(log p_i[y_i])`` in nats with p clipped by scikit-learn
    (:func:`sklearn.metrics.log_loss`).

    Args:
        y_true: true labels, shape (n_rows,).
        y_pred: predicted labels, shape (n_rows,).
        proba: class probabilities, shape (n_rows, n_classes), float,
            columns in `classes` order.
        classes: the labels of `proba`'s columns; if None, scikit-learn
            takes the sorted labels of `y_true`.

    Returns:
        ``{"accuracy", "f1"}`` plus ``"log_loss"`` when `proba` is given.

    Raises:
        DataError: if there are no rows, shapes disagree or a label is not in `classes`.
    """
    true, pred = _as_1d(y_true, y_pred)
    from sklearn.metrics import accuracy_score, f1_score

    out = {
        "accuracy": float(accuracy_score(true, pred)),
        "f1": float(f1_score(true, pred, average="macro", zero_division=0)),
    }
    if proba is not None:
        out["log_loss"] = _log_loss(true, proba, classes)
    return out


def score(
    task: Task, y_true: Any, y_pred: Any, proba: Any = None, classes: Any = None
) -> dict[str, float]:
    """Metrics of `task` (see :func:`regression_metrics`, :func:`classification_metrics`)."""
    if task == "regression":
        return regression_metrics(y_true, y_pred)
    return classification_metrics(y_true, y_pred, proba, classes)
