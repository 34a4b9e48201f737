"""The tracking store over HTTP: runs live on a tracking server (`mlcycle server`).

Selected by `MLCYCLE_TRACKING_URI=http://host:port` (see `mlcycle.start_run`).
Writes keep the local store's speed: the background writer batches them,
and each flush is one gzip-compressed `POST /api/batches`. Every batch gets
an id before its first attempt, and the server applies each id at most
once, so a retry after a lost answer never double-logs. Connection errors,
timeouts and 5xx answers are retried with exponential backoff (bounded),
then raise :class:`~mlcycle.core.MlcycleError` naming the server. Artifacts
are hashed locally, then streamed in 1 MiB chunks (skipped if the server
has the object). Error answers map back to the exception tree: 400/409/422
:class:`~mlcycle.core.InputError`, 404 :class:`~mlcycle.core.NotFound`.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np

from mlcycle.core import InputError, MlcycleError, NotFound, RunNotFound, hash_file, new_id
from mlcycle.tracking._batch import MetricColumns, NewRun, RunBatch
from mlcycle.tracking._records import MetricSeries, RunRecord
from mlcycle.tracking._writer import BackgroundWriter

_CHUNK = 1 << 20
_RETRY_STATUS = frozenset({500, 502, 503, 504})
#: Metric points per upload request (about 3 MB gzip-compressed).
MAX_POINTS_PER_REQUEST = 250_000
#: The server's largest page of a search.
SERVER_PAGE = 5000


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            yield chunk


def _message(response: httpx.Response) -> str:
    """The server's one-line error message (or the start of the body)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    text = response.text.strip().splitlines()
    return text[0][:200] if text else response.reason_phrase


def _record(body: dict[str, Any]) -> RunRecord:
    fields = {k: v for k, v in body.items() if k != "duration"}
    fields["metrics"] = {k: float(v) for k, v in body["metrics"].items()}
    return RunRecord(**fields)


def _slices(b: RunBatch, size: int) -> Iterator[RunBatch]:
    """Split a batch with over `size` points into batches of metrics only, then the rest."""
    for key, col in b.metrics.items():
        for i in range(0, len(col), size):
            part = MetricColumns(
                col.steps[i : i + size], col.values[i : i + size], col.timestamps[i : i + size]
            )
            yield RunBatch(b.run_id, metrics={key: part})
    yield RunBatch(b.run_id, {}, b.params, b.tags, b.artifacts, b.status, b.end_time)


def split_requests(batches: Sequence[RunBatch], max_points: int) -> list[list[RunBatch]]:
    """Group `batches` into requests of at most about `max_points` metric points each.

    A batch larger than that is cut into metric-only batches followed by
    its params, tags, artifacts and status, so a run ends after its points.
    """
    requests: list[list[RunBatch]] = [[]]
    points = 0
    for batch in batches:
        for part in _slices(batch, max_points) if batch.points() > max_points else [batch]:
            if points + part.points() > max_points and requests[-1]:
                requests.append([])
                points = 0
            requests[-1].append(part)
            points += part.points()
    return [r for r in requests if r]


class HttpTrackingStore:
    """Runs on a tracking server, over its REST API (see `mlcycle.server`).

    Thread-safe (one pooled `httpx.Client`). Has no `ws`: run features that
    need a local workspace (models, dataset inputs) raise ConfigError.

    Args:
        url: the server, e.g. `http://mlcycle.internal:5000`.
        timeout: seconds to connect, and between bytes read or written.
        retries: retries after the first attempt of each request.
        backoff: seconds before the first retry; doubled for each next one.
        flush_interval: seconds between the background writer's flushes.
        transport: an httpx transport (tests).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.25,
        flush_interval: float = 1.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self.flush_interval = flush_interval
        self._client = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)

    @property
    def uri(self) -> str:
        """The server's URL."""
        return self.url

    @cached_property
    def writer(self) -> BackgroundWriter:
        """This process's background writer for the server."""
        return BackgroundWriter(self.write, self.flush_interval)

    def flush(self) -> None:
        """Send everything buffered now (nothing to do if nothing was logged)."""
        if "writer" in self.__dict__:
            self.writer.flush()

    def close(self) -> None:
        """Flush, then close the connections."""
        self.flush()
        self._client.close()

    def _send(
        self, method: str, path: str, what: str, body: Callable[[], Any] | None = None, **kw: Any
    ) -> httpx.Response:
        """Send a request, retrying connection errors, timeouts and 5xx with backoff.

        `body` makes the request's content anew for each attempt (a stream).

        Raises:
            MlcycleError: once the retries are spent, naming the server and the last problem.
        """
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                content = {"content": body()} if body is not None else {}
                response = self._client.request(method, path, **content, **kw)
            except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as err:
                raise MlcycleError(f"tracking server {self.url}: {err}") from None
            except httpx.TransportError as err:
                problem = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
                continue
            if response.status_code not in _RETRY_STATUS:
                return response
            problem = f"HTTP {response.status_code}: {_message(response)}"
        raise MlcycleError(
            f"tracking server {self.url}: {what} failed after {self.retries + 1} attempts "
            f"({problem})"
        )

    def _check(self, response: httpx.Response, not_found: type[NotFound] = NotFound) -> Any:
        """Return the JSON of a 2xx answer; raise the matching error otherwise."""
        if response.is_success:
            return response.json() if response.content else None
        message = _message(response)
        if response.status_code == 404:
            raise not_found(message)
        if response.status_code in (400, 409, 422):
            raise InputError(message)
        raise MlcycleError(
            f"tracking server {self.url} answered HTTP {response.status_code}: {message}"
        )

    def create_run(self, run: NewRun) -> None:
        """Create `run` on the server (idempotent: retries are safe)."""
        response = self._send("POST", "/api/runs", "creating a run", json=run.to_json())
        self._check(response)

    def run_exists(self, run_id: str) -> bool:
        """Whether a run with exactly this id exists on the server."""
        try:
            return self.get_run(run_id).id == run_id
        except RunNotFound:
            return False

    def write(self, batches: Sequence[RunBatch]) -> list[tuple[str, str]]:
        """Upload `batches` (gzip JSON); return `(run id, message)` per refused param change.

        Each batch gets an id first, so retries apply once. More than
        :data:`MAX_POINTS_PER_REQUEST` points go in several requests.

        Raises:
            RunNotFound: if a batch names a run the server does not have.
            MlcycleError: if the server cannot be reached (after retries).
        """
        refused: list[tuple[str, str]] = []
        for group in split_requests(batches, MAX_POINTS_PER_REQUEST):
            for b in group:
                if b.id is None:
                    b.id = new_id()
            text = json.dumps([b.to_json() for b in group], allow_nan=False, separators=(",", ":"))
            response = self._send(
                "POST",
                "/api/batches",
                "uploading run data",
                content=gzip.compress(text.encode(), compresslevel=5, mtime=0),
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            )
            body = self._check(response, RunNotFound)
            refused += [(r["run_id"], r["message"]) for r in body["refused"]]
        return refused

    def put_artifact(self, path: Path) -> tuple[str, int]:
        """Upload the file at `path` (streamed, unless the server has it); return `(oid, bytes)`.

        Raises:
            InputError: if the server received other bytes than were hashed
                (the file changed meanwhile).
            MlcycleError: if the server cannot be reached (after retries).
        """
        oid, size = hash_file(path), path.stat().st_size
        url = f"/api/objects/{oid}"
        if self._send("HEAD", url, "checking an object").status_code == 200:
            return oid, size
        response = self._send(
            "PUT",
            url,
            f"uploading {path}",
            body=lambda: _file_chunks(path),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        )
        self._check(response)
        return oid, size

    def download(self, object_id: str, dest: Path) -> Path:
        """Stream object `object_id` (e.g. an artifact's, from `RunRecord.artifacts`) to `dest`.

        Raises:
            NotFound: if the server does not have the object.
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self._client.stream("GET", f"/api/objects/{object_id}") as response:
            if not response.is_success:
                response.read()
                self._check(response)
            with open(dest, "wb") as out:
                for chunk in response.iter_bytes(_CHUNK):
                    out.write(chunk)
        return dest

    def get_run(self, run_id: str) -> RunRecord:
        """Return run `run_id` (or a unique prefix of 6+ characters).

        Raises:
            RunNotFound: if no run (or several) match.
        """
        response = self._send("GET", f"/api/runs/{quote(run_id, safe='')}", "reading a run")
        return _record(self._check(response, RunNotFound))

    def search_runs(
        self,
        filter: str = "",
        *,
        experiment: str | Sequence[str] | None = None,
        parent_id: str | None = None,
        order_by: Sequence[str] = (),
        limit: int = 100,
        offset: int = 0,
    ) -> list[RunRecord]:
        """Return one page of the runs matching `filter` (see docs/tracking-search.md).

        Raises:
            InputError: if the filter or an order item is malformed (with the position).
        """
        names = [experiment] if isinstance(experiment, str) else list(experiment or ())
        fixed = [("filter", filter), *(("experiment", e) for e in names)]
        fixed += [("order_by", o) for o in order_by]
        fixed += [("parent_id", parent_id)] if parent_id else []
        runs: list[RunRecord] = []
        next_offset: int | None = offset
        while next_offset is not None and len(runs) < limit:
            page = min(limit - len(runs), SERVER_PAGE)
            params = [*fixed, ("limit", str(page)), ("offset", str(next_offset))]
            body = self._check(self._send("GET", "/api/runs", "searching runs", params=params))
            runs += [_record(r) for r in body["runs"]]
            next_offset = body["next_offset"]
        return runs

    def metric_series(self, run_id: str, key: str, max_points: int | None = None) -> MetricSeries:
        """Return every point of metric `key` of run `run_id`, sorted by step.

        With `max_points`, the server downsamples with LTTB (dropping NaN/inf).
        An unknown run or key gives an empty series.
        """
        path = f"/api/runs/{quote(run_id, safe='')}/metrics/{quote(key, safe='')}"
        params = {"max_points": max_points} if max_points is not None else None
        body = self._check(self._send("GET", path, "reading a metric", params=params))
        return MetricSeries(
            key,
            np.asarray(body["steps"], dtype=np.int64),
            np.asarray([float(v) for v in body["values"]], dtype=np.float64),
            np.asarray(body["timestamps"], dtype=np.float64),
        )


_STORES: dict[str, HttpTrackingStore] = {}
_STORES_LOCK = threading.Lock()


def http_store(url: str) -> HttpTrackingStore:
    """Return this process's store for the server at `url` (one per URL, so one writer)."""
    key = url.rstrip("/")
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = HttpTrackingStore(key)
        return store
