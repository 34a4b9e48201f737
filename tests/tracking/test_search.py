"""The run search language (docs/tracking-search.md) on SQLite and PostgreSQL.

Runs are written through the real tracking store; each backend gets one
module-wide database holding a fixed corpus (read-only tests) and a seeded
random corpus for the property test that compares SQL with a Python model
of the language.
"""

from __future__ import annotations

import math
import operator
import random
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from mlcycle.core import Config, InputError, new_id, now
from mlcycle.store import Workspace
from mlcycle.store.schema import RunRow
from mlcycle.tracking._batch import MetricColumns, NewRun, RunBatch
from mlcycle.tracking._queries import search_runs
from mlcycle.tracking._search import NUMBER_TEXT, filter_clause, order_clauses
from mlcycle.tracking._sql import SqlTrackingStore

NAN, INF = float("nan"), float("inf")
#: 2025-01-01T00:00:00Z: the fixed corpus starts around here (far from "now").
T0 = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
HOUR, DAY = 3600.0, 86400.0
INJECTION = "'; DROP TABLE runs; --"


# -- databases ------------------------------------------------------------------------------


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def ws(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fresh_postgres_database: Callable[[], AbstractContextManager[str]],
) -> Iterator[Workspace]:
    """One workspace per backend for the whole module, with both corpora written."""
    root = tmp_path_factory.mktemp(f"search-{request.param}")
    if request.param == "sqlite":
        workspace = Workspace(root)
        yield from _filled(workspace)
    else:
        with fresh_postgres_database() as url:
            yield from _filled(Workspace(root, Config(db_url=url)))


def _filled(workspace: Workspace) -> Iterator[Workspace]:
    try:
        store = SqlTrackingStore(workspace)
        _write(store, CORPUS)
        _write(store, RANDOM_CORPUS)
        yield workspace
    finally:
        workspace.close()


# -- the corpora ----------------------------------------------------------------------------


@dataclass
class Spec:
    """A run to write: its name is unique across the module."""

    name: str
    experiment: str = "exp-a"
    status: str = "FINISHED"
    start: float = T0
    end: float | None = None
    parent: str | None = None
    metrics: dict[str, list[float]] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    id: str = field(default_factory=new_id)


def _write(store: SqlTrackingStore, specs: list[Spec]) -> None:
    ids = {s.name: s.id for s in specs}
    for s in specs:
        run = NewRun(
            id=s.id,
            experiment=s.experiment,
            name=s.name,
            start_time=s.start,
            status=s.status,
            end_time=s.end,
            parent_id=ids.get(s.parent or ""),
        )
        store.create_run(run)
    batches = [
        RunBatch(
            s.id,
            metrics={
                k: MetricColumns(list(range(len(v))), v, [now()] * len(v))
                for k, v in s.metrics.items()
            },
            params=s.params,
            tags=s.tags,
        )
        for s in specs
    ]
    store.write(batches)


CORPUS = [
    Spec(
        "r1",
        start=T0 + 9 * HOUR,
        end=T0 + 10 * HOUR,
        metrics={"mae": [50.0, 38.5], "rmse": [5.0], "val loss": [0.25]},
        params={"model": "hgb", "lr": "0.1", "n_estimators": "200"},
        tags={"team": "a", "my tag": "x y"},
    ),
    Spec(
        "r2",
        status="FAILED",
        start=T0 + 10 * HOUR,
        end=T0 + 11 * HOUR,
        metrics={"mae": [41.0], "rmse": [6.0], "train.loss": [0.5]},
        params={"model": "hgb", "lr": "0.01", "note": "50% off"},
        tags={"team": "b"},
    ),
    Spec(
        "r3",
        experiment="exp-b",
        status="RUNNING",
        start=T0 + DAY,
        parent="r1",
        metrics={"mae": [NAN], "rmse": [INF]},
        params={"model": "linear", "lr": "abc"},
        tags={"team": "a", "reviewed": "yes"},
    ),
    Spec(
        "r4",
        experiment="exp-b",
        start=T0 - DAY,
        end=T0,
        metrics={"rmse": [4.0], "ß/λ": [1.0]},
        params={"model": "HGB", "lr": "1e-3"},
    ),
    Spec(
        "it's",
        start=T0 + 2 * DAY,
        end=T0 + 2 * DAY + 60,
        metrics={"mae": [38.5]},
        params={"model": INJECTION, "lr": "1e400"},
        tags={"team": "A"},
    ),
    Spec("recent", experiment="exp-c", status="RUNNING", start=now() - HOUR),
]
NAMES = {s.name for s in CORPUS}


def names(ws: Workspace, filter: str, **kw: Any) -> set[str]:
    """The names of the fixed corpus's runs that match `filter`."""
    return {r.name for r in search_runs(ws, filter, limit=1000, **kw)} & NAMES


def ordered(ws: Workspace, order_by: list[str]) -> list[str]:
    return [r.name for r in search_runs(ws, "", order_by=order_by, limit=1000) if r.name in NAMES]


# -- filters --------------------------------------------------------------------------------

CASES: list[tuple[str, set[str]]] = [
    # metrics: the latest value (r1 logged 50 then 38.5), NaN, infinities, missing
    ("metrics.mae < 40", {"r1", "it's"}),
    ("metrics.mae <= 38.5", {"r1", "it's"}),
    ("metrics.mae > 40", {"r2"}),
    ("metrics.mae >= 41", {"r2"}),
    ("metrics.mae = 41", {"r2"}),
    ("metrics.mae == 41.0", {"r2"}),
    ("metrics.mae = 50", set()),
    ("metrics.mae != 41", {"r1", "r3", "it's"}),
    ("metrics.mae <> 41", {"r1", "r3", "it's"}),
    ("metrics.mae = nan", {"r3"}),
    ("metrics.mae != NaN", {"r1", "r2", "it's"}),
    ("metrics.mae in (41, 38.5)", {"r1", "r2", "it's"}),
    ("metrics.mae in (nan, 41)", {"r2", "r3"}),
    ("metrics.mae not in (41, nan)", {"r1", "it's"}),
    ("metrics.mae is null", {"r4", "recent"}),
    ("metrics.mae IS NOT NULL", {"r1", "r2", "r3", "it's"}),
    ("metrics.mae > -1e-3", {"r1", "r2", "it's"}),
    ("metrics.rmse > 1e9", {"r3"}),
    ("metrics.rmse = inf", {"r3"}),
    ("metrics.rmse < inf", {"r1", "r2", "r4"}),
    ("metrics.rmse > -inf", {"r1", "r2", "r3", "r4"}),
    ("not metrics.mae < 40", {"r2", "r3", "r4", "recent"}),
    ("metrics.`val loss` < 0.3", {"r1"}),
    ('metrics."val loss" = 0.25', {"r1"}),
    ("metrics.train.loss = 0.5", {"r2"}),
    ("metrics.`ß/λ` = 1", {"r4"}),
    ("METRICS.mae < 40", {"r1", "it's"}),
    ("metric.mae < 40", {"r1", "it's"}),
    # params: text, or numbers with < <= > >=
    ("params.model = 'hgb'", {"r1", "r2"}),
    ('params.model = "hgb"', {"r1", "r2"}),
    ("params.model != 'hgb'", {"r3", "r4", "it's"}),
    ("params.model like 'h%'", {"r1", "r2"}),
    ("params.model like 'hg_'", {"r1", "r2"}),
    ("params.model LIKE 'H%'", {"r4"}),
    ("params.model ilike 'h%'", {"r1", "r2", "r4"}),
    ("params.model not like 'h%'", {"r3", "r4", "it's"}),
    ("params.model not ilike 'H%'", {"r3", "it's"}),
    ("params.note like '50\\%%'", {"r2"}),
    ("params.note like '5\\_%'", set()),
    ("params.model in ('hgb', 'linear')", {"r1", "r2", "r3"}),
    ("params.model not in ('hgb', 'linear')", {"r4", "it's"}),
    ("params.lr < 0.05", {"r2", "r4"}),
    ("params.lr >= 0.1", {"r1", "it's"}),
    ("params.lr > 1e300", {"it's"}),
    ("params.lr <= -1", set()),
    ("params.lr = 0.1", {"r1"}),
    ("params.lr = 1e-3", {"r4"}),
    ("params.lr = 0.001", set()),
    ("params.lr in (0.1, 0.01)", {"r1", "r2"}),
    ("params.n_estimators = 200", {"r1"}),
    ("params.n_estimators > 100", {"r1"}),
    ("params.lr > 'a'", {"r3"}),
    ("params.model < 'a'", {"r4", "it's"}),
    ("params.lr is null", {"recent"}),
    ("params.note is not null", {"r2"}),
    ("param.model = 'linear'", {"r3"}),
    # tags
    ("tags.team = 'a'", {"r1", "r3"}),
    ("tags.team like 'a'", {"r1", "r3"}),
    ("tags.team ilike 'a'", {"r1", "r3", "it's"}),
    ("tags.`my tag` = 'x y'", {"r1"}),
    ("tags.reviewed is not null", {"r3"}),
    ("tags.team is null", {"r4", "recent"}),
    ("tag.team in ('b')", {"r2"}),
    # attributes
    ("name = 'r1'", {"r1"}),
    ("name = 'it''s'", {"it's"}),
    ("name = 'it\\'s'", {"it's"}),
    ('name = "it\'s"', {"it's"}),
    ("name like 'r%'", {"r1", "r2", "r3", "r4", "recent"}),
    ("name in ('r1', 'r2')", {"r1", "r2"}),
    ("NAME = 'r1'", {"r1"}),
    ("status = 'FINISHED'", {"r1", "r4", "it's"}),
    ("status != 'RUNNING'", {"r1", "r2", "r4", "it's"}),
    ("attributes.status = 'FAILED'", {"r2"}),
    ("status ilike 'run%'", {"r3", "recent"}),
    ("status is null", set()),
    ("experiment = 'exp-a'", {"r1", "r2", "it's"}),
    ("experiment like 'exp-%' and not experiment = 'exp-a'", {"r3", "r4", "recent"}),
    ("parent_id is not null", {"r3"}),
    ("parent_id is null", NAMES - {"r3"}),
    ("parent_id != 'x'", {"r3"}),
    ("not parent_id = 'x'", NAMES),
    # times: ISO 8601 (naive = UTC), seconds, missing end times
    ("start_time < '2025-01-01'", {"r4"}),
    ("start_time >= '2025-01-01T09:00:00'", {"r1", "r2", "r3", "it's", "recent"}),
    ("start_time >= '2025-01-01T09:00:00Z' and start_time < '2025-01-01 10:00:00+00:00'", {"r1"}),
    ("start_time > '2025-01-01T10:30:00+01:00'", {"r2", "r3", "it's", "recent"}),
    (f"start_time = {T0 + 9 * HOUR}", {"r1"}),
    (f"end_time in ({T0 + 11 * HOUR}, {T0})", {"r2", "r4"}),
    ("end_time is null", {"r3", "recent"}),
    ("end_time > 0", {"r1", "r2", "r4", "it's"}),
    ("not end_time > 0", {"r3", "recent"}),
    ("attributes.end_time <= '2025-01-01'", {"r4"}),
    # relative times: "recent" started an hour ago, the rest in 2025
    ("start_time > -2h", {"recent"}),
    ("start_time > -1.5h", {"recent"}),
    ("start_time > -90m", {"recent"}),
    ("start_time > -30m", set()),
    ("start_time >= -7d", {"recent"}),
    ("start_time < -1w", NAMES - {"recent"}),
    ("start_time < -3600s", NAMES),
    # precedence: NOT > AND > OR
    ("name = 'r1' or name = 'r2' and status = 'RUNNING'", {"r1"}),
    ("(name = 'r1' or name = 'r2') and status = 'RUNNING'", set()),
    ("not name = 'r1' and not name = 'r2'", NAMES - {"r1", "r2"}),
    ("not (name = 'r1' or name = 'r2')", NAMES - {"r1", "r2"}),
    ("NOT name = 'r1' OR name = 'r1'", NAMES),
    ("not not name = 'r1'", {"r1"}),
    ("name = 'r1' AnD (metrics.mae < 40 Or tags.team = 'b')", {"r1"}),
    ("((name = 'r1'))", {"r1"}),
    ("metrics.mae<40 and params.model='hgb'", {"r1"}),
    ("metrics.mae < 40 and params.model = 'hgb'", {"r1"}),
    ("", NAMES),
    ("  \n ", NAMES),
    # injection attempts are values like any other
    (f"params.model = '{INJECTION.replace(chr(39), chr(39) * 2)}'", {"it's"}),
    ("name = 'x''; DROP TABLE runs; --'", set()),
]


@pytest.mark.parametrize(("filter", "expected"), CASES, ids=[c[0] or "empty" for c in CASES])
def test_filter(ws: Workspace, filter: str, expected: set[str]) -> None:
    assert names(ws, filter) == expected


def test_run_ids(ws: Workspace) -> None:
    ids = {r.name: r.id for r in search_runs(ws, "", limit=1000)}
    assert names(ws, f"id = '{ids['r2']}'") == {"r2"}
    assert names(ws, f"run_id in ('{ids['r1']}', '{ids['r4']}')") == {"r1", "r4"}
    assert names(ws, f"id like '{ids['r3'][:8]}%'") >= {"r3"}
    assert names(ws, f"parent_id = '{ids['r1']}'") == {"r3"}


def test_filter_combines_with_experiment_and_parent(ws: Workspace) -> None:
    assert names(ws, "metrics.mae < 40", experiment="exp-a") == {"r1", "it's"}
    assert names(ws, "status = 'RUNNING'", experiment=["exp-b", "exp-c"]) == {"r3", "recent"}


def test_injection_is_stored_and_matched_as_text(ws: Workspace) -> None:
    with pytest.raises(InputError):
        search_runs(ws, "name = 'x' or 1=1")
    with pytest.raises(InputError):
        search_runs(ws, "name = 'x'; DROP TABLE runs")
    (run,) = search_runs(ws, "name = 'it''s'")
    assert run.params["model"] == INJECTION
    with ws.db.session() as s:
        assert s.scalar(select(func.count()).select_from(RunRow)) == len(CORPUS) + len(
            RANDOM_CORPUS
        )


# -- ordering -------------------------------------------------------------------------------

ORDERS: list[tuple[list[str], list[str]]] = [
    # ties (r1 and it's both at mae 38.5) and missing values: newest first, then by id
    (["metrics.mae"], ["it's", "r1", "r2", "recent", "r3", "r4"]),
    (["metrics.mae ASC"], ["it's", "r1", "r2", "recent", "r3", "r4"]),
    (["metrics.mae DESC"], ["r2", "it's", "r1", "recent", "r3", "r4"]),
    (["metrics.rmse desc"], ["r3", "r2", "r1", "r4", "recent", "it's"]),
    (["metrics.`val loss`"], ["r1", "recent", "it's", "r3", "r2", "r4"]),
    # params: numbers by value, then text, then missing
    (["params.lr"], ["r4", "r2", "r1", "it's", "r3", "recent"]),
    (["params.lr desc"], ["it's", "r1", "r2", "r4", "r3", "recent"]),
    (["params.model"], ["it's", "r4", "r2", "r1", "r3", "recent"]),
    (["tags.team"], ["it's", "r3", "r1", "r2", "recent", "r4"]),
    (["tags.team DESC"], ["r2", "r3", "r1", "it's", "recent", "r4"]),
    (["start_time"], ["r4", "r1", "r2", "r3", "it's", "recent"]),
    (["start_time desc"], ["recent", "it's", "r3", "r2", "r1", "r4"]),
    (["attributes.end_time desc"], ["it's", "r2", "r1", "r4", "recent", "r3"]),
    (["end_time"], ["r4", "r1", "r2", "it's", "recent", "r3"]),
    (["experiment", "name desc"], ["r2", "r1", "it's", "r4", "r3", "recent"]),
    (["status", "metrics.mae desc"], ["r2", "it's", "r1", "r4", "recent", "r3"]),
    (["name"], ["it's", "r1", "r2", "r3", "r4", "recent"]),
    ([], ["recent", "it's", "r3", "r2", "r1", "r4"]),
]


@pytest.mark.parametrize(("order_by", "expected"), ORDERS, ids=[" ".join(o[0]) for o in ORDERS])
def test_order(ws: Workspace, order_by: list[str], expected: list[str]) -> None:
    assert ordered(ws, order_by) == expected


def test_limit_and_offset(ws: Workspace) -> None:
    def page(limit: int, offset: int) -> list[str]:
        runs = search_runs(
            ws,
            "experiment in ('exp-a', 'exp-b')",
            order_by=["start_time"],
            limit=limit,
            offset=offset,
        )
        return [r.name for r in runs]

    assert page(2, 0) == ["r4", "r1"]
    assert page(2, 1) == ["r1", "r2"]
    assert page(10, 3) == ["r3", "it's"]
    assert page(10, 5) == []
    assert page(0, 0) == []


# -- errors ---------------------------------------------------------------------------------

ERRORS: list[tuple[str, str, int]] = [
    ("metrics.mae < and x", "expected a value after '<'", 14),
    ("metrics.mae <", "expected a value after '<'", 13),
    ("metrics.mae = null", "use IS NULL", 14),
    ("params.model = hgb", "quote text: 'hgb'", 15),
    ("nmae = 'x'", "unknown field 'nmae' (did you mean 'name'?", 0),
    ("metrics.mae < 40 and bogus > 1", "unknown field 'bogus'", 21),
    ("attributes.mae = 1", "unknown field 'mae'", 0),
    ("x.y = 1", "unknown field 'x.y'", 0),
    ("metrics.mae like '4%'", "LIKE does not apply to metric 'mae'", 12),
    ("metrics.mae not ilike '4%'", "ILIKE does not apply to metric 'mae'", 16),
    ("start_time like '2025%'", "LIKE does not apply to start_time", 11),
    ("params.model like 3", "expected quoted text; got 3", 18),
    ("metrics.mae < '40'", "metric 'mae' compares with numbers; got '40'", 14),
    ("metrics.mae < -7d", "relative times are for start_time and end_time", 14),
    ("metrics.mae < nan", "nan is not ordered", 14),
    ("params.lr >= nan", "nan is not ordered", 13),
    ("params.model = 'hgb", "unterminated text (no closing ')", 15),
    ('name = "x', 'unterminated text (no closing ")', 7),
    ("metrics.`val loss < 3", "unterminated text (no closing `)", 8),
    ("(metrics.mae < 40", "'(' is never closed", 0),
    ("((metrics.mae < 40)", "'(' is never closed", 0),
    ("(metrics.mae < 40 x", "expected AND, OR or ')'; got x", 18),
    ("metrics.mae < 40)", "unmatched ')'", 16),
    (")", "expected a field", 0),
    ("()", "expected a field", 1),
    ("metrics.mae in ()", "IN needs at least one value", 16),
    ("metrics.mae in (1,)", "expected a value after ','", 18),
    ("metrics.mae in (1 2)", "expected ',' or ')' in the IN list", 18),
    ("metrics.mae in 1", "expected '(' after IN", 15),
    ("metrics.mae", "expected an operator", 11),
    ("metrics.mae 40", "expected an operator", 12),
    ("metrics.mae not 40", "expected an operator (LIKE, ILIKE or IN)", 16),
    ("metrics.mae is 3", "expected NULL after IS", 15),
    ("metrics.mae is not 3", "expected NULL after IS NOT", 19),
    ("metrics. < 3", "expected a key after 'metrics.'", 9),
    ("metrics.ß < 3", "unexpected character 'ß'", 8),
    ("metrics.mae < 40 40", "expected AND, OR or the end of the filter; got 40", 17),
    ("metrics.mae < 40 and", "expected a field", 20),
    ("and metrics.mae < 40", "expected a field", 0),
    ("not", "expected a field", 3),
    ("metrics.mae ! 3", "unexpected character '!'", 12),
    ("metrics.mae < 3 && name = 'x'", "unexpected character '&'", 16),
    ("start_time > 7d", "relative times count back from now: write -7d", 13),
    ("start_time > '2025-13-01'", "expected a time", 13),
    ("end_time < 'yesterday'", "expected a time", 11),
    ("start_time > nan", "expected a time", 13),
    ("name = 'x' or 1=1", "expected a field", 14),
    ("not " * 101 + "name = 'x'", "more than 100 nested NOTs and parentheses", 404),
    ("(" * 101 + "name = 'x'" + ")" * 101, "more than 100 nested", 100),
]


@pytest.mark.parametrize(("filter", "message", "position"), ERRORS, ids=[e[0][:40] for e in ERRORS])
def test_filter_errors(filter: str, message: str, position: int) -> None:
    with pytest.raises(InputError) as err:
        filter_clause(filter)
    text = str(err.value)
    assert text.startswith("filter: ")
    assert message in text
    assert f" at position {position}" in text
    assert text.endswith(": " + filter)
    assert "\n" not in text


def test_nesting_up_to_the_limit_works(ws: Workspace) -> None:
    assert names(ws, "not " * 49 + "(" * 51 + "name = 'r1'" + ")" * 51) == NAMES - {"r1"}


def test_error_message_format() -> None:
    with pytest.raises(InputError) as err:
        filter_clause("metrics.mae < and x")
    assert (
        str(err.value) == "filter: expected a value after '<' at position 14: metrics.mae < and x"
    )
    with pytest.raises(InputError) as err:
        filter_clause("metrics.mae <\n and")
    assert str(err.value).endswith("at position 15: metrics.mae <  and")  # still one line


@pytest.mark.parametrize(
    ("item", "message", "position"),
    [
        ("metrics.mae up", "expected ASC, DESC or the end of the sort item; got up", 12),
        ("metrics.mae desc desc", "got desc", 17),
        ("", "expected a field", 0),
        ("foo", "unknown field 'foo'", 0),
        ("metrics.", "expected a key after 'metrics.'", 8),
        ("metrics.mae < 3", "got <", 12),
    ],
)
def test_order_errors(item: str, message: str, position: int) -> None:
    with pytest.raises(InputError) as err:
        order_clauses(["start_time", item])
    assert str(err.value).startswith("order_by: ")
    assert message in str(err.value)
    assert f" at position {position}" in str(err.value)


def test_search_runs_reports_errors(ws: Workspace) -> None:
    with pytest.raises(InputError, match="position 14"):
        search_runs(ws, "metrics.mae < and x")
    with pytest.raises(InputError, match="order_by"):
        search_runs(ws, "", order_by=["metrics.mae sideways"])


def test_literals_are_bound_parameters() -> None:
    sql = str(filter_clause(f"params.model = '{INJECTION.replace(chr(39), chr(39) * 2)}'"))
    assert "DROP" not in sql
    assert "model" not in sql  # the key is a parameter too


# -- a Python model of the language against SQL ---------------------------------------------

METRIC_VALUES = [-1.0, 0.0, 0.5, 2.0, NAN, INF]
PARAM_VALUES = ["1", "0.5", "-2", "abc", "1e3", "10", "B", "b", "1.5e+2", ".5"]
TAG_VALUES = ["x", "y", "X", "xy"]


def _random_corpus(n: int, seed: int) -> list[Spec]:
    rng = random.Random(seed)

    def some(keys: list[str], values: list[Any]) -> dict[str, Any]:
        return {k: rng.choice(values) for k in keys if rng.random() < 0.8}

    return [
        Spec(
            f"rand-{i}",
            experiment="random",
            start=T0 - 30 * DAY + i,
            metrics={k: [v] for k, v in some(["a", "b"], METRIC_VALUES).items()},
            params=some(["p", "q"], PARAM_VALUES),
            tags=some(["t"], TAG_VALUES),
        )
        for i in range(n)
    ]


RANDOM_CORPUS = _random_corpus(40, seed=7)
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
Pred = Callable[[Spec], bool]


def _number_text(v: float) -> str:
    return repr(v) if math.isfinite(v) else ("-inf" if v < 0 else "inf" if v > 0 else "nan")


@st.composite
def metric_cmp(draw: st.DrawFn) -> tuple[str, Pred]:
    key = draw(st.sampled_from(["a", "b"]))
    op = draw(st.sampled_from(list(COMPARE)))
    pool = METRIC_VALUES if op in ("=", "!=") else [v for v in METRIC_VALUES if v == v]
    v = draw(st.sampled_from(pool))

    def pred(s: Spec) -> bool:
        if key not in s.metrics:
            return False
        x = s.metrics[key][-1]
        if math.isnan(v):
            return math.isnan(x) == (op == "=")
        return COMPARE[op](x, v)

    return f"metrics.{key} {op} {_number_text(v)}", pred


@st.composite
def param_cmp(draw: st.DrawFn) -> tuple[str, Pred]:
    kind, key = draw(st.sampled_from([("params", "p"), ("params", "q"), ("tags", "t")]))
    op = draw(st.sampled_from([*COMPARE, "like", "not like", "in", "not in", "is null"]))
    pool = TAG_VALUES if kind == "tags" else PARAM_VALUES

    def has(s: Spec) -> str | None:
        return (s.tags if kind == "tags" else s.params).get(key)

    if op == "is null":
        return f"{kind}.{key} is null", lambda s: has(s) is None
    if op in ("<", "<=", ">", ">=") and draw(st.booleans()):  # numeric comparison
        v = draw(st.sampled_from([-2.0, 0.0, 0.5, 1.0, 10.0, 150.0, 1000.0]))

        def numeric(s: Spec) -> bool:
            x = has(s)
            return x is not None and bool(NUMBER_TEXT.fullmatch(x)) and COMPARE[op](float(x), v)

        return f"{kind}.{key} {op} {v!r}", numeric
    if op in ("like", "not like"):
        pattern = draw(st.sampled_from(["x%", "%b%", "_", "1%", "%e%", "X%"]))
        regex = re.compile(
            "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern), re.S
        )

        def like(s: Spec) -> bool:
            x = has(s)
            return x is not None and bool(regex.fullmatch(x)) == (op == "like")

        return f"{kind}.{key} {op} '{pattern}'", like
    if op in ("in", "not in"):
        values = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
        listed = ", ".join(f"'{v}'" for v in values)

        def member(s: Spec) -> bool:
            x = has(s)
            return x is not None and (x in values) == (op == "in")

        return f"{kind}.{key} {op} ({listed})", member
    text_value = draw(st.sampled_from(pool))

    def textual(s: Spec) -> bool:
        x = has(s)  # text compares by code point
        return x is not None and COMPARE[op](x, text_value)

    return f"{kind}.{key} {op} '{text_value}'", textual


def _combine(children: st.SearchStrategy[tuple[str, Pred]]) -> st.SearchStrategy[tuple[str, Pred]]:
    def both(pair: tuple[tuple[str, Pred], tuple[str, Pred]], word: str) -> tuple[str, Pred]:
        (lt, lp), (rt, rp) = pair
        if word == "and":
            return f"({lt}) and ({rt})", lambda s: lp(s) and rp(s)
        return f"{lt} or {rt}", lambda s: lp(s) or rp(s)

    def negate(child: tuple[str, Pred]) -> tuple[str, Pred]:
        return f"not ({child[0]})", lambda s: not child[1](s)

    pairs = st.tuples(children, children)
    return st.one_of(
        pairs.map(lambda p: both(p, "and")),
        pairs.map(lambda p: both(p, "or")),
        children.map(negate),
    )


FILTERS = st.recursive(st.one_of(metric_cmp(), param_cmp()), _combine, max_leaves=6)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(FILTERS)
def test_sql_matches_the_python_model(ws: Workspace, case: tuple[str, Pred]) -> None:
    filter, pred = case
    expected = {s.name for s in RANDOM_CORPUS if pred(s)}
    got = {r.name for r in search_runs(ws, filter, experiment="random", limit=1000)}
    assert got == expected, filter


def test_python_model_sees_both_kinds_of_param_text() -> None:
    numbers = [v for v in PARAM_VALUES if NUMBER_TEXT.fullmatch(v)]
    assert numbers == ["1", "0.5", "-2", "1e3", "10", "1.5e+2"]  # not "abc", "B", ".5"
