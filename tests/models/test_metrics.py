"""Regression and classification metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlcycle.core import DataError
from mlcycle.models import PRIMARY_METRIC, classification_metrics, regression_metrics, score


def test_regression_metrics_by_hand() -> None:
    out = regression_metrics([1.0, 2.0, 4.0], [2.0, 2.0, 1.0])
    assert out["mae"] == pytest.approx((1 + 0 + 3) / 3)
    assert out["rmse"] == pytest.approx(math.sqrt((1 + 0 + 9) / 3))


def test_classification_metrics_by_hand() -> None:
    y_true = ["a", "a", "b", "b"]
    y_pred = ["a", "b", "b", "b"]
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7]])
    out = classification_metrics(y_true, y_pred, proba, classes=["a", "b"])
    assert out["accuracy"] == pytest.approx(0.75)
    f1_a, f1_b = 2 * 1 * 0.5 / 1.5, 2 * (2 / 3) * 1 / (2 / 3 + 1)
    assert out["f1"] == pytest.approx((f1_a + f1_b) / 2)
    expected = -(math.log(0.9) + math.log(0.4) + math.log(0.8) + math.log(0.7)) / 4
    assert out["log_loss"] == pytest.approx(expected)


def test_classes_order_follows_proba_columns() -> None:
    proba = np.array([[0.1, 0.9], [0.8, 0.2]])
    out = classification_metrics([1, 0], [1, 0], proba, classes=[0, 1])
    assert out["log_loss"] == pytest.approx(-(math.log(0.9) + math.log(0.8)) / 2)
    assert "log_loss" not in classification_metrics([1, 0], [1, 0])


def test_empty_and_mismatched_inputs() -> None:
    with pytest.raises(DataError, match="no labeled rows in the window"):
        regression_metrics([], [])
    with pytest.raises(DataError, match="no labeled rows in the window"):
        classification_metrics(np.array([]), np.array([]))
    with pytest.raises(DataError):
        regression_metrics([1.0], [1.0, 2.0])
    with pytest.raises(DataError):
        classification_metrics([0, 1], [0, 1], np.ones((2, 3)) / 3, classes=[0, 1])


def test_primary_metric() -> None:
    assert PRIMARY_METRIC == {"regression": "mae", "classification": "log_loss"}


def test_score_dispatches_on_task() -> None:
    assert score("regression", [1.0, 3.0], [2.0, 3.0]) == regression_metrics([1.0, 3.0], [2.0, 3.0])
    proba = np.array([[0.8, 0.2], [0.3, 0.7]])
    out = score("classification", [0, 1], [0, 1], proba, [0, 1])
    assert out == classification_metrics([0, 1], [0, 1], proba, classes=[0, 1])
    assert set(out) == {"accuracy", "f1", "log_loss"}
    assert set(score("classification", [0, 1], [1, 1])) == {"accuracy", "f1"}
    with pytest.raises(DataError, match="no labeled rows"):
        score("regression", [], [])
