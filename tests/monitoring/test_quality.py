"""check_quality on the bike sharing data and on crafted bad windows."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from mlcycle.monitoring import check_quality


def test_bike_2012_against_2011(bike: pd.DataFrame) -> None:
    ref, cur = bike[bike.yr == 0], bike[bike.yr == 1].copy()
    cur.loc[cur.index[:100], "hum"] = np.nan
    cur.loc[cur.index[:10], "weathersit"] = 9
    result = check_quality(ref, cur, numeric=["hum", "cnt"], categorical=["weathersit"])
    by_name = {c.column: c for c in result.columns}
    assert (
        by_name["hum"].missing_current == 100 / len(cur) and by_name["hum"].missing_reference == 0
    )
    assert by_name["cnt"].out_of_range > 0.05  # 2012 rentals exceed 2011's maximum
    assert by_name["weathersit"].new_categories == ("9",)
    assert result.duplicated_rows == 0 and not result.missing_columns
    json.dumps(result.to_dict(), allow_nan=False)


def test_schema_changes_duplicates_and_vanished_categories() -> None:
    ref = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "c"], "old": [1, 2, 3]})
    cur = pd.DataFrame({"x": ["1", "1", "5"], "c": ["a", "a", "a"], "new": [0, 0, 0]})
    cur["x"] = cur["x"].astype("int64")
    result = check_quality(ref, cur, numeric=["x"], categorical=["c"])
    assert result.missing_columns == ("old",) and result.new_columns == ("new",)
    assert result.dtype_changes == {"x": ("float64", "int64")}
    assert result.duplicated_rows == 1 and result.duplicated_share == 1 / 3
    x, c = result.columns
    assert x.out_of_range == 1 / 3 and c.vanished_categories == ("b", "c")


def test_empty_window_gives_nan_rates_not_errors() -> None:
    ref = pd.DataFrame({"x": [1.0, np.inf], "c": ["a", None]})
    result = check_quality(ref, ref.iloc[:0], numeric=["x"], categorical=["c"])
    x, c = result.columns
    assert x.missing_reference == 0.5 and math.isnan(x.missing_current)
    assert c.vanished_categories == () and result.duplicated_share == 0.0
