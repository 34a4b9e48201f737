"""HTML and JSON reports: self-contained, escaped, with the drifted features."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from mlcycle.core import DriftConfig
from mlcycle.monitoring import detect_drift, render_drift_report, render_loop_report, write_json

EXTERNAL = re.compile(r"""(src|href)\s*=\s*["']?\s*https?://""", re.IGNORECASE)


def _assert_self_contained(html: str) -> None:
    assert "data:image/png;base64," in html
    assert not EXTERNAL.search(html)
    assert "<script" not in html.lower()


def test_drift_report_on_bike_data(bike: pd.DataFrame, tmp_path: Path) -> None:
    ref, cur = bike[bike["mnth"] == 1], bike[bike["mnth"] == 7]
    numeric, categorical = ["temp", "hum", "windspeed"], ["weathersit", "workingday"]
    result = detect_drift(ref, cur, numeric=numeric, categorical=categorical, config=DriftConfig())
    assert "temp" in result.drifted_features
    out = render_drift_report(
        result, ref, cur, title="Bike <Jan> vs Jul", path=tmp_path / "r" / "drift.html"
    )
    html = out.read_text(encoding="utf-8")
    _assert_self_contained(html)
    assert "Bike &lt;Jan&gt; vs Jul" in html and "<Jan>" not in html
    for name in result.drifted_features:
        assert f"<td>{name}</td>" in html
    assert html.count("<img") == 1 + len(result.drifted_features)


def test_drift_report_with_categorical_drift_and_untested_feature(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"c": rng.choice(["a", "b"], 3000), "e": rng.normal(size=3000)})
    cur = pd.DataFrame({"c": rng.choice(["b", "z"], 3000), "e": np.nan})
    result = detect_drift(ref, cur, numeric=["e"], categorical=["c"], config=DriftConfig())
    html = render_drift_report(result, ref, cur, title="t", path=tmp_path / "d.html").read_text()
    assert result.drifted_features == ["c"] and "not enough data" in html
    _assert_self_contained(html)


def _windows() -> list[dict[str, object]]:
    return [
        {"window": "2012-01", "rows": 700, "drift_share": 0.0, "live_metric": 40.0,
         "baseline_metric": 40.0, "version": 1, "action": "none"},
        {"window": "2012-02", "rows": 690, "drift_share": 0.6, "live_metric": 55.5,
         "baseline_metric": 55.5, "version": 1, "action": "retrain <v2>"},
        {"window": "2012-03", "rows": 740, "drift_share": 0.2, "live_metric": None,
         "baseline_metric": float("nan"), "version": 2, "action": "promoted"},
    ]  # fmt: skip


def test_loop_report(tmp_path: Path) -> None:
    drift = {
        "2012-01": {"temp": 0.01, "hum": 0.02},
        "2012-02": {"temp": 0.4, "hum": 0.05},
        "2012-03": {"temp": 0.1},
    }
    out = render_loop_report(
        _windows(), drift, title="Loop", path=tmp_path / "loop.html", metric="mae"
    )
    html = out.read_text(encoding="utf-8")
    _assert_self_contained(html)
    assert html.count("<img") == 3
    assert "2012-02" in html and "retrain &lt;v2&gt;" in html and "55.5" in html


def test_write_json_nan_to_null(tmp_path: Path) -> None:
    data = {"a": math.nan, "b": [1.0, np.float64(math.inf)], "c": np.int64(3)}
    path = write_json(data, tmp_path / "x" / "out.json")
    assert json.loads(path.read_text()) == {"a": None, "b": [1.0, None], "c": 3}
    assert path.read_text().startswith('{\n  "a"')
