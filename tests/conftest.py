"""Fixtures shared by every test: workspaces, the PostgreSQL server, the bike data.

PostgreSQL: tests marked `postgres` use `$MLCYCLE_TEST_POSTGRES_URL`
(default `postgresql+psycopg://postgres@127.0.0.1:5432/test`), each in a
fresh database that is dropped afterwards. Without a reachable server
they skip with the reason, unless `MLCYCLE_REQUIRE_POSTGRES=1` (set by
`.ci/run`), which turns the skip into a failure.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pandas as pd
import pytest
from tests.ray_cluster import ray_cluster  # noqa: F401  # one Ray cluster for the whole session

from mlcycle.core import Config, parse_config
from mlcycle.data import BIKE_SHARING_CSV
from mlcycle.store import Workspace

PG_URL = os.environ.get(
    "MLCYCLE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

BIKE_DATA = {
    "path": str(BIKE_SHARING_CSV),
    "target": "cnt",
    "time_column": "dteday",
    "numeric": ["hr", "temp", "atemp", "hum", "windspeed"],
    "categorical": ["season", "yr", "mnth", "holiday", "weekday", "workingday", "weathersit"],
}


def bike_config(**overrides: object) -> Config:
    """The quickstart's config with a small AutoML budget, plus `overrides` (top-level keys)."""
    raw: dict[str, object] = {
        "model_name": "bike-demand",
        "experiment": "bike-demand",
        "data": BIKE_DATA,
        "split": {"train_end": "2012-01-01"},
        "automl": {"trials": 2},
    }
    raw.update(overrides)
    return parse_config(raw)


Cli = Callable[..., "subprocess.CompletedProcess[str]"]


def _run_cli(
    workspace: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlcycle", "--workspace", str(workspace), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(autouse=True)
def _mlcycle_logger_restored() -> Iterator[None]:
    """Undo what an in-process CLI run does to the `mlcycle` logger (a log file, no
    propagation), so later tests' `caplog` still sees mlcycle's records."""
    logger = logging.getLogger("mlcycle")
    handlers, propagate, level = list(logger.handlers), logger.propagate, logger.level
    yield
    for handler in set(logger.handlers) - set(handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.propagate = propagate
    logger.setLevel(level)


@pytest.fixture(scope="session")
def cli() -> Cli:
    """Run `mlcycle --workspace WS ARGS...` as a new process: `cli(ws, *args, env=...)`."""
    return _run_cli


@pytest.fixture(scope="session")
def make_bike_config() -> Callable[..., Config]:
    """:func:`bike_config` for test modules (conftest is not importable under importlib mode)."""
    return bike_config


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    """An empty workspace on SQLite in a temp folder."""
    ws = Workspace(tmp_path / "ws", bike_config())
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def bike() -> pd.DataFrame:
    """The UCI Bike Sharing hourly data (17,379 rows), as read from the CSV."""
    return pd.read_csv(BIKE_SHARING_CSV)


def _admin_engine():  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


@contextmanager
def _fresh_postgres_database() -> Iterator[str]:
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    try:
        admin = _admin_engine()
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (OperationalError, ImportError) as err:
        reason = f"PostgreSQL not reachable at {PG_URL}: {str(err).splitlines()[0]}"
        if os.environ.get("MLCYCLE_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + " (MLCYCLE_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    name = f"mlcycle_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def fresh_postgres_database() -> Callable[[], AbstractContextManager[str]]:
    """`with fresh_postgres_database() as url:` a new, empty PostgreSQL database, dropped after.

    For module-scoped fixtures; tests use :func:`postgres_url`.
    """
    return _fresh_postgres_database


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database (dropped afterwards)."""
    with _fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """A workspace on SQLite, then on PostgreSQL (contract tests run on both)."""
    overrides: dict[str, object] = {}
    if request.param == "postgresql":
        overrides["db_url"] = request.getfixturevalue("postgres_url")
    ws = Workspace(tmp_path / "ws", bike_config(**overrides))
    yield ws
    ws.close()
