"""Schema-driven fuzzing of the server's OpenAPI with schemathesis: never a 5xx, errors in JSON."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from tests.serving.conftest import MODEL, Served
from tests.serving.live_server import LiveServer, live_server


@pytest.fixture(scope="module")
def live(served: Served) -> Iterator[LiveServer]:
    with live_server(served.ws, f"{MODEL}@production") as server:
        yield server


@pytest.fixture(scope="module")
def api(live: LiveServer) -> Any:
    """The server's own OpenAPI document, as schemathesis reads it."""
    return schemathesis.openapi.from_url(f"{live.http_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api")


@schema.parametrize()
@settings(max_examples=15, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
def test_no_request_gets_a_server_error(case: Any, live: LiveServer) -> None:
    response = case.call(base_url=live.http_url)
    assert response.status_code < 500, (case.method, case.path, response.text[:300])
    if response.status_code >= 400:
        assert isinstance(response.json()["error"], str)
