"""Reports: self-contained HTML (inline SVG, no script, no URL), its JSON twin, Jupyter display."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlcycle.core import DriftConfig
from mlcycle.monitoring import (
    Distribution,
    DriftResult,
    Report,
    WindowSummary,
    detect_drift,
    render_drift_report,
    render_loop_report,
    write_json,
)
from mlcycle.monitoring._charts import nice_ticks

EXTERNAL = re.compile(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", re.IGNORECASE)


def _assert_self_contained(html: str) -> None:
    assert not EXTERNAL.search(html)
    assert "<script" not in html.lower() and "@import" not in html and "url(" not in html


def _drifted_listed(html: str) -> list[str]:
    block = re.search(r'<ul class="drifted-list" id="drifted-features">(.*?)</ul>', html)
    assert block is not None
    return re.findall(r"<li>(.*?)</li>", block.group(1))


@pytest.fixture(scope="module")
def bike_drift(bike: pd.DataFrame) -> tuple[DriftResult, pd.DataFrame, pd.DataFrame]:
    ref, cur = bike[bike["mnth"] == 1], bike[bike["mnth"] == 7]
    numeric, categorical = ["temp", "hum", "windspeed"], ["weathersit", "workingday"]
    result = detect_drift(ref, cur, numeric=numeric, categorical=categorical, config=DriftConfig())
    return result, ref, cur


def _windows() -> list[WindowSummary]:
    return [
        WindowSummary(
            f"2012-{m:02d}",
            rows=700,
            drift_share=0.2 * m,
            drifted_features=("temp",) if m > 1 else (),
            feature_scores={"temp": 0.1 * m, "hum": None if m == 2 else 0.01},
            live_metrics={"mae": 40.0 + m if m != 3 else None},
            label_coverage=0.25 * m,
            outlier_share=0.01 * m,
            version=1,
        )
        for m in (1, 2, 3, 4)
    ]


def test_drift_report_on_bike_data(
    bike_drift: tuple[DriftResult, pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    result, ref, cur = bike_drift
    assert "temp" in result.drifted_features
    out = render_drift_report(
        result, ref, cur, title="Bike <Jan> vs Jul", path=tmp_path / "r" / "drift.html"
    )
    html = out.read_text(encoding="utf-8")
    _assert_self_contained(html)
    assert "Bike &lt;Jan&gt; vs Jul" in html and "<Jan>" not in html
    assert _drifted_listed(html) == result.drifted_features
    # one score chart plus one reference-vs-current chart per drifted feature
    assert html.count("<svg") == 1 + len(result.drifted_features)
    for name in result.drifted_features:
        assert f"<title>{name}</title>" in html


def test_categorical_drift_and_untested_feature(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"c": rng.choice(["a", "b"], 3000), "e": rng.normal(size=3000)})
    cur = pd.DataFrame({"c": rng.choice(["b", "z"], 3000), "e": np.nan})
    result = detect_drift(ref, cur, numeric=["e"], categorical=["c"], config=DriftConfig())
    report = Report.from_drift(result, ref, cur, title="t")
    html = report.save_html(tmp_path / "d.html").read_text()
    assert result.drifted_features == ["c"] and "not enough data" in html
    (dist,) = report.distributions
    assert dist.kind == "categorical" and set(dist.labels) == {"a", "b", "z"}
    assert math.isclose(sum(dist.reference), 1.0) and math.isclose(sum(dist.current), 1.0)
    _assert_self_contained(html)


def test_json_twin_holds_the_same_data(
    bike_drift: tuple[DriftResult, pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    result, ref, cur = bike_drift
    report = Report.from_drift(
        result,
        ref,
        cur,
        title="bikes",
        model="bikes",
        windows=_windows(),
        quality=[{"check": "nulls", "passed": True}],
    )
    data = json.loads(report.save_json(tmp_path / "report.json").read_text())
    assert data == report.to_dict()
    assert data["drift"]["drifted_features"] == result.drifted_features
    assert [d["feature"] for d in data["distributions"]] == result.drifted_features
    assert data["windows"][2]["live_metrics"] == {"mae": None}
    assert data["quality"] == [{"check": "nulls", "passed": True}]


def test_over_time_sections_and_jupyter_display() -> None:
    report = Report("Windows", model="bikes", windows=tuple(_windows()))
    fragment = report._repr_html_()
    assert fragment.startswith('<div class="mlcycle-report">') and "<html" not in fragment
    for section in (
        "summary",
        "drift-over-time",
        "live-metrics",
        "label-coverage",
        "outlier-share",
        "windows",
    ):
        assert f'<section id="{section}">' in fragment
    assert '<section id="drift">' not in fragment  # no drift result given
    assert fragment.count("<svg") == 5  # drift share, feature heatmap, live, coverage, outliers
    assert report.to_html().startswith("<!DOCTYPE html>") and fragment in report.to_html()


def test_streaming_report_from_precomputed_histograms() -> None:
    dist = Distribution.from_counts(
        "temp", "numeric", ["0", "0.5"], [30, 10], [0, 0], edges=[0, 0.5, 1]
    )
    assert dist.reference == (0.75, 0.25) and dist.current == (0.0, 0.0)
    feature = {"feature": "temp", "score": 0.4, "drifted": True, "threshold": 0.1}
    drift = {"share": 1.0, "drifted": True, "drifted_features": ["temp"], "features": [feature]}
    html = Report.from_drift(drift, title="stream", distributions=[dist]).to_html()
    assert "<th>threshold</th>" in html and "Drift score per feature" in html
    assert html.count("<svg") == 2


def test_quality_accepts_result_objects() -> None:
    class Checks:
        def to_dict(self) -> dict[str, object]:
            return {"checks": [{"column": "temp", "check": "range", "failed_rows": 3}]}

    html = Report.from_drift({}, title="q", quality=Checks()).to_html()
    assert '<section id="quality">' in html and "<td>range</td>" in html


def test_loop_report(tmp_path: Path) -> None:
    windows = [
        {"window": "2012-01", "rows": 700, "drift_share": 0.0, "live_metric": 40.0,
         "baseline_metric": 40.0, "version": 1, "action": "none"},
        {"window": "2012-02", "rows": 690, "drift_share": 0.6, "live_metric": 55.5,
         "baseline_metric": 55.5, "version": 1, "action": "retrain <v2>"},
        {"window": "2012-03", "rows": 740, "drift_share": 0.2, "live_metric": None,
         "baseline_metric": float("nan"), "version": 2, "action": "promoted"},
    ]  # fmt: skip
    drift = {"2012-01": {"temp": 0.01}, "2012-02": {"temp": 0.4, "hum": 0.05}, "2012-03": {}}
    out = render_loop_report(
        windows, drift, title="Loop", path=tmp_path / "loop.html", metric="mae"
    )
    html = out.read_text(encoding="utf-8")
    _assert_self_contained(html)
    assert "retrain &lt;v2&gt;" in html and "55.5" in html and "first model mae" in html
    assert html.count("<svg") == 3  # drift share, heatmap, live metrics


def test_nice_ticks_are_round_and_cover_the_range() -> None:
    assert nice_ticks(0.0, 1.0) == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ticks = nice_ticks(32.0, 66.0)
    assert ticks[0] <= 32.0 and ticks[-1] >= 66.0 and ticks == pytest.approx([30, 40, 50, 60, 70])


def test_write_json_nan_to_null(tmp_path: Path) -> None:
    data = {"a": math.nan, "b": [1.0, np.float64(math.inf)], "c": np.int64(3)}
    path = write_json(data, tmp_path / "x" / "out.json")
    assert json.loads(path.read_text()) == {"a": None, "b": [1.0, None], "c": 3}
    assert path.read_text().startswith('{\n  "a"')
