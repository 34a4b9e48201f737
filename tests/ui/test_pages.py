"""The UI's routes through FastAPI's TestClient: pages, pagination, sorting, errors, files."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.ui.conftest import LONG_POINTS, MODEL, Seeded, make_app

from mlcycle.ui import make_router
from mlcycle.ui._charts import DEFAULT_POINTS
from mlcycle.ui._format import duration, field, number, size


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(make_app(seeded.ws)) as c:
        yield c


def run_names(html: str) -> list[str]:
    """The run names of the runs table, in order."""
    return re.findall(r'<td class="name"><a href="/runs/[0-9a-f]+">([^<]+)</a>', html)


def test_every_page_answers(client: TestClient, seeded: Seeded) -> None:
    ids = seeded.run_ids
    compare = f"/compare?runs={ids['bike-demand-00']}&runs={ids['churn-01']}"
    pages = ["/", f"/runs/{seeded.long_run}", compare, "/models", f"/models/{MODEL}", "/monitoring"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:500])
        assert response.headers["content-type"].startswith("text/html")
        assert "<nav" in response.text and "mlcycle" in response.text


def test_no_page_loads_anything_from_another_origin(client: TestClient, seeded: Seeded) -> None:
    html = client.get(f"/runs/{seeded.long_run}").text
    assert not re.search(r'(src|href)="(https?:)?//', html)
    for name in ("style.css", "charts.js", "uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE"):
        assert client.get(f"/static/{name}").status_code == 200


def test_pagination_pages_through_every_run_once(client: TestClient, seeded: Seeded) -> None:
    seen: list[str] = []
    page = 1
    while True:
        html = client.get(f"/?per_page=7&page={page}").text
        names = run_names(html)
        assert len(names) <= 7
        seen += names
        if 'rel="next"' not in html:
            break
        page += 1
    assert sorted(seen) == sorted(seeded.run_ids)
    assert page == -(-len(seeded.run_ids) // 7)


def test_bad_page_numbers_fall_back(client: TestClient) -> None:
    assert client.get("/?page=abc&per_page=-3").status_code == 200
    assert run_names(client.get("/?page=999").text) == []


def test_filter_and_experiment(client: TestClient) -> None:
    html = client.get("/", params={"filter": "params.model = 'hgb' and metrics.mae < 40"}).text
    names = run_names(html)
    assert names and all(n.split("-")[-1] in {"00", "03", "06"} for n in names)
    churn = run_names(client.get("/", params={"experiment": "churn"}).text)
    assert len(churn) == 10 and all(n.startswith("churn-") for n in churn)


def test_bad_filter_is_shown_with_status_400(client: TestClient) -> None:
    response = client.get("/", params={"filter": "metrics.mae < and"})
    assert response.status_code == 400
    assert "expected a value after &#39;&lt;&#39;" in response.text
    assert 'role="alert"' in response.text
    assert client.get("/", params={"sort": "nmae"}).status_code == 400


def test_sort_by_metric_both_ways(client: TestClient) -> None:
    params = {"experiment": "bike-demand", "sort": "metrics.mae"}
    up = run_names(client.get("/", params=params).text)
    down = run_names(client.get("/", params={**params, "order": "desc"}).text)
    assert up[0] == "bike-demand-00" and down[-1] == "bike-demand-00"

    def mae(name: str) -> float:  # as logged by the seed
        i = int(name[-2:])
        return 25.0 + 3.0 * i + (5.0 if i % 3 == 2 else 0.0)

    assert up == sorted(up, key=mae)
    html = client.get("/", params=params).text
    assert 'aria-sort="ascending"' in html and "order=desc" in html  # the header toggles


def test_non_finite_values_are_spelled_out(client: TestClient, seeded: Seeded) -> None:
    html = client.get(f"/runs/{seeded.nan_run}").text
    for text in (">NaN<", ">inf<", ">-inf<"):
        assert text in html
    assert "FAILED" in html


def test_run_chart_is_downsampled(client: TestClient, seeded: Seeded) -> None:
    html = client.get(f"/runs/{seeded.long_run}").text
    assert f"1,000 of {LONG_POINTS:,} points drawn (LTTB); 3 non-finite values not drawn" in html
    assert 'data-chart="m-0"' in html
    spec = re.search(r'<script type="application/json" id="chart-specs">(.*?)</script>', html, re.S)
    assert spec is not None and len(spec.group(1)) < 60_000  # ~1,000 points, not 100,000
    assert DEFAULT_POINTS == 1000


def test_artifact_download_streams_the_object(client: TestClient, seeded: Seeded) -> None:
    run_id = seeded.run_ids["bike-demand-01"]
    page = client.get(f"/runs/{run_id}").text
    assert f"/runs/{run_id}/artifacts/notes/summary.txt" in page
    response = client.get(f"/runs/{run_id}/artifacts/notes/summary.txt")
    assert response.status_code == 200 and response.text == "final mae 25.0\n"
    assert response.headers["content-disposition"].startswith("attachment")
    assert client.get(f"/runs/{run_id}/artifacts/nope.txt").status_code == 404


def test_compare_shows_diff_and_parallel_coordinates(client: TestClient, seeded: Seeded) -> None:
    a, b = seeded.run_ids["bike-demand-00"], seeded.run_ids["bike-demand-04"]
    html = client.get(f"/compare?runs={a}&runs={b}&metric=rmse").text
    assert '<svg class="parallel"' in html and html.count('class="run-line"') == 2
    assert "<option selected>rmse</option>" in html
    assert html.count('class="differs"') >= 3  # depth, lr, model (+ metrics)
    assert 'data-chart="c-0"' in html


def test_compare_needs_two_runs(client: TestClient, seeded: Seeded) -> None:
    response = client.get(f"/compare?runs={seeded.long_run}")
    assert response.status_code == 400 and "2 to 20 runs" in response.text
    assert client.get(f"/compare?runs={seeded.long_run}&runs=ffffffffff").status_code == 404


def test_models_pages(client: TestClient, seeded: Seeded) -> None:
    overview = client.get("/models").text
    assert MODEL in overview and "production → v2" in overview
    html = client.get(f"/models/{MODEL}").text
    assert "v1 → v2" in html and "gate passed" in html and "mlcycle-loop" in html
    assert "dataset train@v1" in html and seeded.run_ids["bike-demand-03"][:8] in html
    v1 = client.get(f"/models/{MODEL}?version=1").text
    assert "Lineage of v1" in v1 and seeded.run_ids["bike-demand-00"][:8] in v1
    assert client.get("/models/nope").status_code == 404
    assert client.get(f"/models/{MODEL}?version=9").status_code == 404


def test_monitoring_page_and_reports(client: TestClient) -> None:
    html = client.get("/monitoring").text
    assert "window 2012-03: data drift" in html
    assert "loop0-drift" in html and "v2 promoted" in html
    report = client.get("/reports/loop-report.html")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert client.get("/reports/../mlcycle.yaml").status_code == 404
    assert client.get("/reports/%2e%2e/mlcycle.yaml").status_code == 404
    assert client.get("/static/../_router.py").status_code == 404


def test_unknown_run_is_404_page(client: TestClient) -> None:
    response = client.get("/runs/0123456789")
    assert response.status_code == 404 and "does not exist" in response.text


def test_router_works_under_a_prefix(seeded: Seeded) -> None:
    app = FastAPI()
    app.include_router(make_router(seeded.ws), prefix="/ui")
    with TestClient(app) as c:
        html = c.get("/ui/").text
        assert 'href="/ui/static/style.css"' in html and 'href="/ui/runs/' in html
        assert c.get("/ui/static/style.css").status_code == 200


def test_formats() -> None:
    nan, inf = float("nan"), float("inf")
    assert [number(nan), number(inf), number(-inf)] == ["NaN", "inf", "-inf"]
    assert number(None) == "" and number(3) == "3" and number(0.123456789) == "0.123457"
    assert (
        duration(0.25) == "250 ms"
        and duration(125) == "2 min 5 s"
        and duration(7300) == "2 h 1 min"
    )
    assert size(1536) == "1.5 KiB" and size(10) == "10 B"
    assert (
        field("metrics", "val loss") == "metrics.`val loss`"
        and field("params", "lr") == "params.lr"
    )


def test_monitoring_page_lists_the_loops_decisions(client: TestClient) -> None:
    html = client.get("/monitoring").text
    table = html[html.index('id="decisions-table"') :]
    table = table[: table.index("</table>")]
    assert "rollback" in table and "v3 &rarr; v2" in table
    assert "2012-09-01 .. 2012-10-01" in table and "mae 224.4 vs 45.6" in table
    assert "No decisions yet" not in table
