"""The runs table: one page of runs, searched, sorted and paginated in the database.

Each page costs the queries of one :func:`mlcycle.tracking.search_runs` call
(`limit` = page size + 1, to know whether a next page exists) and the list
of experiment names: nothing reads all runs, so 10,000 runs page as fast
as 100. There is no total count (counting is O(all runs)).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from mlcycle.core import InputError
from mlcycle.store import Workspace
from mlcycle.tracking import RunRecord, experiment_names, search_runs
from mlcycle.ui._format import field as search_field

PAGE_SIZES = (25, 50, 100, 200)
MAX_PAGE_SIZE = 500
MAX_KEY_COLUMNS = 20


def parse_int(text: str | None, default: int, lo: int, hi: int) -> int:
    """`text` as an int clamped to `[lo, hi]`; `default` if it is missing or not a number."""
    try:
        value = int(text) if text else default
    except ValueError:
        value = default
    return max(lo, min(hi, value))


@dataclass(frozen=True)
class RunsQuery:
    """What the runs page shows: the query string of `/`, parsed.

    `sort` is a search-language field (`metrics.mae`, `start_time` ...),
    empty for newest first; `page` is 1-based.
    """

    filter: str = ""
    experiment: str = ""
    sort: str = ""
    desc: bool = False
    page: int = 1
    per_page: int = 50

    @classmethod
    def parse(cls, params: dict[str, str]) -> RunsQuery:
        """Read the query parameters of `/`, never failing: bad numbers fall back to defaults."""
        return cls(
            filter=params.get("filter", "").strip(),
            experiment=params.get("experiment", ""),
            sort=params.get("sort", "").strip(),
            desc=params.get("order", "") == "desc",
            page=parse_int(params.get("page"), 1, 1, 1_000_000),
            per_page=parse_int(params.get("per_page"), 50, 1, MAX_PAGE_SIZE),
        )

    def order_by(self) -> list[str]:
        """The `order_by` argument of :func:`search_runs`."""
        return [f"{self.sort} {'DESC' if self.desc else 'ASC'}"] if self.sort else []

    def params(self, **changes: Any) -> dict[str, Any]:
        """The query string of this page with `changes`, defaults left out."""
        q = replace(self, **changes)
        return {
            "filter": q.filter,
            "experiment": q.experiment,
            "sort": q.sort,
            "order": "desc" if q.desc and q.sort else "",
            "page": q.page if q.page != 1 else "",
            "per_page": q.per_page if q.per_page != 50 else "",
        }

    def sort_params(self, sort: str) -> dict[str, Any]:
        """The query string after clicking the header of column `sort` (ascending, then toggle)."""
        desc = not self.desc if self.sort == sort else False
        return self.params(sort=sort, desc=desc, page=1)


@dataclass(frozen=True)
class Column:
    """A metric or param column: its key and the search field to sort by."""

    kind: str
    key: str

    @property
    def sort(self) -> str:
        """The field that sorts by this column, e.g. ``metrics.mae``."""
        return search_field(f"{self.kind}s", self.key)

    def value(self, run: RunRecord) -> Any:
        """This column's value in `run` (None when the run lacks the key)."""
        data: dict[str, Any] = run.metrics if self.kind == "metric" else run.params
        return data.get(self.key)


@dataclass(frozen=True)
class RunsPage:
    """One page of the runs table, ready for `runs.html`."""

    query: RunsQuery
    runs: list[RunRecord]
    has_next: bool
    columns: list[Column]
    hidden_columns: int
    experiments: list[str]
    error: str | None = None
    first: int = field(default=0)


def _columns(runs: list[RunRecord], sort: str) -> tuple[list[Column], int]:
    """Metric then param columns: the keys present on this page, at most 20 of each kind."""
    out: list[Column] = []
    hidden = 0
    for kind in ("metric", "param"):
        keys = sorted({k for r in runs for k in (r.metrics if kind == "metric" else r.params)})
        shown = keys[:MAX_KEY_COLUMNS]
        extra = [k for k in keys[MAX_KEY_COLUMNS:] if search_field(f"{kind}s", k) == sort]
        hidden += len(keys) - len(shown) - len(extra)
        out += [Column(kind, k) for k in shown + extra]
    return out, hidden


def runs_page(ws: Workspace, query: RunsQuery) -> RunsPage:
    """Search one page of runs; a malformed filter or sort is reported in `error`, not raised."""
    experiments = experiment_names(ws)
    offset = (query.page - 1) * query.per_page
    try:
        found = search_runs(
            ws,
            query.filter,
            experiment=query.experiment or None,
            order_by=query.order_by(),
            limit=query.per_page + 1,
            offset=offset,
        )
    except InputError as err:
        return RunsPage(query, [], False, [], 0, experiments, str(err))
    runs = found[: query.per_page]
    columns, hidden = _columns(runs, query.sort)
    return RunsPage(
        query, runs, len(found) > query.per_page, columns, hidden, experiments, None, offset + 1
    )
