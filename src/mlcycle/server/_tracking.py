"""Tracking routes: experiments, runs, search, batch uploads, metric series.

Writes are idempotent so that clients can retry blindly: a run is created
once whatever the number of `POST /api/runs` with its id, and each batch id
is applied at most once (see :meth:`SqlTrackingStore.write`).
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Annotated, Any, cast

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from mlcycle.core import InputError, is_object_id
from mlcycle.server._encode import json_safe
from mlcycle.server._schemas import (
    BATCHES_BODY,
    BatchesOut,
    CreatedOut,
    ExperimentsOut,
    MetricSeriesOut,
    NewRunIn,
    RunOut,
    RunPage,
)
from mlcycle.store import Workspace
from mlcycle.tracking import NewRun, RunBatch, SqlTrackingStore, experiment_names, store_for
from mlcycle.tracking._downsample import downsample

#: Largest batch upload on the wire (bytes), and once decompressed.
MAX_WIRE_BYTES = 64 << 20
MAX_JSON_BYTES = 512 << 20
#: Largest page of a search.
MAX_PAGE = 5000
_BATCH_ID = re.compile(r"^[0-9a-f]{32}$")


def _store(ws: Workspace) -> SqlTrackingStore:
    return cast(SqlTrackingStore, store_for(ws))  # a workspace's store is always SQL


async def read_body(request: Request, limit: int) -> bytes:
    """Return the request's body, read in chunks.

    Raises:
        InputError: if it is longer than `limit` bytes.
    """
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InputError(f"request body is over the limit of {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress gzip `data`, refusing more than `limit` bytes of output (zip bombs).

    Raises:
        InputError: if `data` is not complete gzip or inflates beyond `limit`.
    """
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit)
    except zlib.error as err:
        raise InputError(f"request body is not valid gzip: {err}") from None
    if inflater.unconsumed_tail:
        raise InputError(f"request body inflates to more than {limit} bytes")
    if not inflater.eof:
        raise InputError("request body is truncated gzip")
    return out


def parse_batches(raw: bytes, encoding: str) -> list[RunBatch]:
    """Parse a batch upload: JSON (gzip-compressed if `encoding` is "gzip") list of batches.

    Raises:
        InputError: naming what is malformed (encoding, JSON, a batch, a batch id).
    """
    if encoding == "gzip":
        raw = gunzip(raw, MAX_JSON_BYTES)
    elif encoding not in ("", "identity"):
        raise InputError(f"Content-Encoding {encoding!r} is not supported; use gzip or none")
    try:
        body = json.loads(raw)
    except ValueError as err:
        raise InputError(f"request body is not valid JSON: {err}") from None
    if not isinstance(body, list) or not all(isinstance(b, dict) for b in body):
        raise InputError("request body must be a JSON list of batch objects")
    batches = [RunBatch.from_json(b) for b in body]
    for b in batches:
        if b.id is not None and not _BATCH_ID.fullmatch(b.id):
            raise InputError(f"batch id {b.id!r} must be 32 lowercase hex characters")
    return batches


def check_artifacts(ws: Workspace, batches: list[RunBatch]) -> None:
    """Raise InputError if a batch records an artifact whose object is not stored."""
    for b in batches:
        for path, (oid, _) in b.artifacts.items():
            if not is_object_id(oid) or not ws.objects.exists(oid):
                raise InputError(
                    f"artifact {path!r} of run {b.run_id}: object {oid!r} is not stored; "
                    "upload it first (PUT /api/objects/{oid})"
                )


def _create_run(ws: Workspace, body: NewRunIn) -> dict[str, str]:
    store = _store(ws)
    try:
        store.create_run(NewRun(**body.model_dump()))
    except Exception:
        if not store.run_exists(body.id):  # a retried create (same id) is fine
            raise
    return {"id": body.id}


def _search(ws: Workspace, **query: Any) -> dict[str, Any]:
    limit = query.pop("limit")
    runs = _store(ws).search_runs(limit=limit + 1, **query)  # one more: is there a next page?
    more = len(runs) > limit
    return {
        "runs": [json_safe(r.to_dict()) for r in runs[:limit]],
        "next_offset": query["offset"] + limit if more else None,
    }


def _series(ws: Workspace, run_id: str, key: str, max_points: int | None) -> dict[str, Any]:
    series = _store(ws).metric_series(run_id, key)
    if max_points is not None:
        series = downsample(series, max_points)
    return {
        "key": key,
        "steps": series.steps.tolist(),
        "values": json_safe(series.values.tolist()),
        "timestamps": series.timestamps.tolist(),
    }


def tracking_router(ws: Workspace) -> APIRouter:
    """The tracking routes over workspace `ws`'s database and object store."""
    router = APIRouter(prefix="/api", tags=["tracking"])

    @router.get("/experiments", summary="List experiments", response_model=ExperimentsOut)
    def experiments() -> dict[str, Any]:
        return {"experiments": experiment_names(ws)}

    @router.post("/runs", summary="Create a run", status_code=201, response_model=CreatedOut)
    def create_run(body: NewRunIn) -> dict[str, str]:
        """Create a run with the client's id; repeating the call with the same id is a no-op."""
        return _create_run(ws, body)

    @router.get("/runs", summary="Search runs", response_model=RunPage)
    def search_runs(
        filter: Annotated[
            str, Query(description="e.g. metrics.mae < 40 and params.model = 'hgb'")
        ] = "",
        experiment: Annotated[list[str] | None, Query(description="experiment name(s)")] = None,
        parent_id: Annotated[str | None, Query(description="only children of this run")] = None,
        order_by: Annotated[list[str] | None, Query(description="FIELD [ASC|DESC]")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        """Runs matching a filter in the search language (docs/tracking-search.md), one page.

        Default order: newest first. A malformed filter answers 400 with the position.
        """
        return _search(
            ws,
            filter=filter,
            experiment=experiment or None,
            parent_id=parent_id,
            order_by=order_by or (),
            limit=limit,
            offset=offset,
        )

    @router.get("/runs/{run_id}", summary="Get a run", response_model=RunOut)
    def get_run(run_id: str) -> dict[str, Any]:
        """One run by id (or a unique prefix of 6+ characters); 404 if none."""
        return json_safe(_store(ws).get_run(run_id).to_dict())  # type: ignore[no-any-return]

    @router.get(
        "/runs/{run_id}/metrics/{key:path}",
        summary="Get a metric series",
        response_model=MetricSeriesOut,
    )
    def metric_series(
        run_id: str,
        key: str,
        max_points: Annotated[
            int | None, Query(ge=3, description="downsample with LTTB (drops NaN/inf)")
        ] = None,
    ) -> dict[str, Any]:
        """Every point of metric `key` by step (empty for an unknown run or key)."""
        return _series(ws, run_id, key, max_points)

    @router.post(
        "/batches",
        summary="Upload batches of params, metrics, tags and artifact records",
        response_model=BatchesOut,
        openapi_extra={"requestBody": BATCHES_BODY},
    )
    async def post_batches(request: Request) -> dict[str, Any]:
        """Apply a JSON list of `RunBatch.to_json()` (gzip with `Content-Encoding: gzip`).

        All batches go in one transaction; a batch whose `id` was applied
        before is skipped, so a retried upload never double-logs. Refused
        param changes are listed; everything else is written.
        """
        raw = await read_body(request, MAX_WIRE_BYTES)
        encoding = request.headers.get("content-encoding", "").strip().lower()
        batches = parse_batches(raw, encoding)
        await run_in_threadpool(check_artifacts, ws, batches)
        refused = await run_in_threadpool(_store(ws).write, batches)
        return {
            "received": len(batches),
            "refused": [{"run_id": r, "message": m} for r, m in refused],
        }

    return router
