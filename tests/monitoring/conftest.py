"""Shared fixtures for the monitoring tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

BIKE_CSV = Path(__file__).resolve().parents[2] / "src/mlcycle/data/bike_sharing/hour.csv"


@pytest.fixture(scope="session")
def bike() -> pd.DataFrame:
    """The UCI Bike Sharing hourly data (17,379 rows)."""
    return pd.read_csv(BIKE_CSV, parse_dates=["dteday"])
