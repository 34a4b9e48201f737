"""The UI end to end: a real uvicorn server and Debian's Chromium driven by Playwright.

Each page is loaded, used (filter, sort, open, select and compare) and
screenshotted under the test's `tmp_path`; a screenshot must not be blank.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from tests.ui.conftest import MODEL, LiveServer, Seeded

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("MLCYCLE_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("MLCYCLE_REQUIRE_CHROMIUM") == "1":  # set by .ci/run
            pytest.fail(reason + " (MLCYCLE_REQUIRE_CHROMIUM=1)")
        pytest.skip(reason)
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    yield page
    context.close()
    assert errors == [], errors  # no JavaScript error on any page


def assert_not_blank(png: Path, min_colours: int = 8) -> None:
    """The screenshot has many colours and some contrast (a blank page has one colour)."""
    pixels = np.asarray(Image.open(png).convert("RGB"))
    # One integer per pixel: np.unique over rows (axis=0) is ~100x slower on a full page.
    packed = pixels.astype(np.uint32) @ np.array([1 << 16, 1 << 8, 1], dtype=np.uint32)
    colours = len(np.unique(packed))
    assert colours >= min_colours, f"{png.name}: only {colours} distinct colours"
    assert pixels.std() > 10, f"{png.name}: pixel std {pixels.std():.1f}"


def shot(page: Any, tmp_path: Path, name: str, selector: str | None = None) -> Path:
    path = tmp_path / f"{name}.png"
    if selector:
        page.locator(selector).first.screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=True)
    assert_not_blank(path)
    return path


def names(page: Any) -> list[str]:
    return [str(n) for n in page.locator("#runs-table td.name a").all_inner_texts()]


def test_runs_table_filters_and_sorts(page: Any, tmp_path: Path) -> None:
    page.goto("/")
    assert len(names(page)) == 30
    shot(page, tmp_path, "runs")
    page.fill("input[name=filter]", "params.model = 'hgb' and metrics.mae < 40")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**filter=**")
    filtered = names(page)
    assert 0 < len(filtered) < 30
    page.select_option("select[name=experiment]", "bike-demand")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    assert all(n.startswith("bike-demand") for n in names(page))
    page.goto("/?experiment=bike-demand")
    page.click("#runs-table th.metric a:text-is('mae')")
    page.wait_for_url("**sort=metrics.mae**")
    ascending = names(page)
    assert ascending[0] == "bike-demand-00"
    page.click("#runs-table th.metric a:has-text('mae')")
    page.wait_for_url("**order=desc**")
    assert names(page) == ascending[::-1]  # distinct values: a strict reversal
    shot(page, tmp_path, "runs-sorted")


def test_bad_filter_shows_the_error(page: Any, tmp_path: Path) -> None:
    page.goto("/")
    page.fill("input[name=filter]", "metrics.mae <")
    page.click("form.filters button[type=submit]")
    error = page.locator("#filter-error")
    error.wait_for()
    assert "expected a value after '<'" in error.inner_text()
    shot(page, tmp_path, "bad-filter")


def test_run_page_draws_the_long_series(page: Any, seeded: Seeded, tmp_path: Path) -> None:
    response = page.goto(f"/runs/{seeded.long_run}")
    assert response.status == 200
    plot = page.locator("[data-chart=m-0]")
    plot.locator("canvas").wait_for()
    assert int(plot.get_attribute("data-drawn")) <= 1000  # LTTB: ~1,000 of 100,000 points
    assert "100,000" in page.inner_text("#m-0")
    shot(page, tmp_path, "run-chart", "#m-0 canvas")
    shot(page, tmp_path, "run")


def test_select_two_runs_and_compare(page: Any, seeded: Seeded, tmp_path: Path) -> None:
    page.goto("/?experiment=bike-demand")
    page.check(f'input[value="{seeded.run_ids["bike-demand-00"]}"]')
    page.check(f'input[value="{seeded.run_ids["bike-demand-04"]}"]')
    page.click("#compare-button")
    page.wait_for_url("**/compare?**")
    page.locator("[data-chart=c-0] canvas").wait_for()
    legend = page.locator("#c-0 .u-legend").inner_text()
    assert "bike-demand-00" in legend and "bike-demand-04" in legend  # overlaid curves
    assert page.locator("svg.parallel polyline.run-line").count() == 2
    assert page.locator("#param-diff tr.differs").count() == 2  # lr, model
    assert page.locator("#param-diff tr.same").all_inner_texts()[0].split()[0] == "depth"
    shot(page, tmp_path, "compare-chart", "#c-0 canvas")
    shot(page, tmp_path, "parallel", "svg.parallel")
    shot(page, tmp_path, "compare")


def test_models_page_shows_the_promotion(page: Any, seeded: Seeded, tmp_path: Path) -> None:
    page.goto("/models")
    page.click(f"#models-table a:text-is('{MODEL}')")
    page.wait_for_url(f"**/models/{MODEL}")
    history = page.locator("#history-table").inner_text()
    assert "v1 → v2" in history and "mlcycle-loop" in history
    lineage = page.locator("#lineage").inner_text()
    assert "dataset train@v1" in lineage and "bike-demand-03" in lineage
    shot(page, tmp_path, "model")


def test_monitoring_page_charts_the_loop(page: Any, tmp_path: Path) -> None:
    page.goto("/monitoring")
    for chart in ("loop0-drift", "loop0-live", "loop0-version"):
        page.locator(f"[data-chart={chart}] canvas").wait_for()
    assert "window 2012-03: data drift" in page.inner_text("#alerts-table")
    shot(page, tmp_path, "monitoring")
    page.click("#reports-table a:text-is('loop-report.html')")
    page.wait_for_url("**/reports/loop-report.html")
    assert page.locator("svg[role=img]").count() >= 3  # the report's inline SVG charts
    shot(page, tmp_path, "loop-report")
