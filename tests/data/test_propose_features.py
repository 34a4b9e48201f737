"""propose_features and schema inference on the bike data and a synthetic frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlcycle.data import column_kind, propose_features

BIKE_NUMERIC = ("hr", "temp", "atemp", "hum", "windspeed")
BIKE_CATEGORICAL = ("season", "yr", "mnth", "holiday", "weekday", "workingday", "weathersit")


def test_bike_proposal(bike: pd.DataFrame) -> None:
    proposal = propose_features(bike, "cnt", time_column="dteday")
    assert proposal.numeric == BIKE_NUMERIC
    assert proposal.categorical == BIKE_CATEGORICAL
    assert set(proposal.excluded) == {"cnt", "dteday", "instant", "casual", "registered"}
    assert proposal.excluded["dteday"] == "time column"
    assert "identifier" in proposal.excluded["instant"]
    assert "sums with another column" in proposal.excluded["casual"]
    assert "sums with another column" in proposal.excluded["registered"]
    assert len(proposal.warnings) == 3


def test_bike_proposal_without_time_column_still_drops_dates(bike: pd.DataFrame) -> None:
    proposal = propose_features(bike, "cnt")
    assert "date" in proposal.excluded["dteday"]
    assert proposal.numeric + proposal.categorical == BIKE_NUMERIC + BIKE_CATEGORICAL


def _synthetic(n: int = 400, seed: int = 42) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = rng.choice(["churn", "stay"], size=n)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in rng.permutation(n)],
            "age": rng.normal(40, 10, n).round(1),
            "plan": rng.choice(["basic", "pro", "team"], size=n),
            "visits": rng.integers(0, 1000, n),
            "status_code": np.where(label == "churn", "closed", "open"),  # the label in disguise
            "constant": 1,
            "label": label,
        }
    )


def test_synthetic_classification_warns_about_id_and_leak() -> None:
    frame = _synthetic()
    proposal = propose_features(frame, "label")
    assert proposal.numeric == ("age", "visits")
    assert proposal.categorical == ("plan",)
    assert "identifier" in proposal.excluded["customer_id"]
    assert "leakage" in proposal.excluded["status_code"]
    assert proposal.excluded["constant"] == "constant"
    warned = " | ".join(proposal.warnings)
    assert "'customer_id'" in warned
    assert "'status_code'" in warned
    assert "'constant'" not in warned  # constant columns are dropped silently
    assert len(proposal.warnings) == 2


def test_numeric_leak_by_correlation() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(size=300)
    frame = pd.DataFrame(
        {"x": rng.normal(size=300), "y_scaled": y * 3.0 + 1.0 + rng.normal(0, 1e-4, 300), "y": y}
    )
    proposal = propose_features(frame, "y")
    assert proposal.numeric == ("x",)
    assert "leakage" in proposal.excluded["y_scaled"]


def test_column_kind() -> None:
    assert column_kind(pd.Series([1, 2, 3] * 10)) == "categorical"
    assert column_kind(pd.Series(range(100))) == "numeric"
    assert column_kind(pd.Series([0.1, 0.2])) == "numeric"
    assert column_kind(pd.Series([True, False])) == "categorical"
    assert column_kind(pd.Series(["2011-01-01", "2011-01-02"])) == "datetime"
    assert column_kind(pd.Series(["a", "b"] * 50)) == "categorical"
    assert column_kind(pd.Series([f"free text {i}" for i in range(100)])) == "text"
