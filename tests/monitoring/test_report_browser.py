"""A saved report opened from disk in Chromium (Playwright): charts drawn, no request made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from tests.ui.test_browser import browser  # noqa: F401 - the browser fixture

from mlcycle.core import DriftConfig
from mlcycle.monitoring import Report, WindowSummary, detect_drift

pytestmark = pytest.mark.slow


def _assert_not_blank(png: Path) -> None:
    """Many colours and contrast; colours are counted as packed 24-bit ints (np.unique on
    rows, as tests/ui does, takes ~30 s on a full-page shot of a busy 2-core machine)."""
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(np.uint32)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    assert len(np.unique(packed)) >= 16, f"{png.name}: only {len(np.unique(packed))} colours"
    assert rgb.std() > 10, f"{png.name}: pixel std {rgb.std():.1f}"


def _report(bike: pd.DataFrame) -> Report:
    ref, cur = bike[bike["mnth"] == 1], bike[bike["mnth"] == 7]
    result = detect_drift(
        ref,
        cur,
        numeric=["temp", "hum", "windspeed"],
        categorical=["weathersit"],
        config=DriftConfig(),
    )
    windows = [
        WindowSummary(
            f"2011-{m:02d}", drift_share=0.1 * m, live_metrics={"mae": 30.0 + m}, label_coverage=0.5
        )
        for m in range(1, 8)
    ]
    return Report.from_drift(result, ref, cur, title="Bike drift", model="bikes", windows=windows)


def test_report_renders_offline_with_drifted_features_listed(
    browser: Any,  # noqa: F811 - the fixture imported above
    bike: pd.DataFrame,
    tmp_path: Path,
) -> None:
    report = _report(bike)
    path = report.save_html(tmp_path / "report.html")
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        page.goto(path.as_uri())
        listed = page.locator("#drifted-features li").all_inner_texts()
        charts = page.locator("svg[role=img]").count()
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    finally:
        context.close()
    assert listed == report.drift["drifted_features"] and "temp" in listed  # type: ignore[index]
    assert charts == 1 + len(listed) + 3  # scores, distributions, drift/live/coverage over time
    assert set(requests) <= {path.as_uri()}  # the page itself and nothing else
    _assert_not_blank(tmp_path / "report.png")
