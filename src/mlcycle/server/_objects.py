"""Object routes: streamed uploads checked against their BLAKE3 id, streamed downloads.

An upload (`PUT /api/objects/{oid}`) is written to a temp file under
`.mlcycle/uploads/` chunk by chunk while it is hashed, so the server holds
one network chunk in memory whatever the size; bytes that do not hash to
`oid` are refused (400) and nothing is stored. Downloads stream from the
object store (a local object as is; a remote one through a hash-verified
temp copy).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import blake3
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from mlcycle.core import InputError, NotFound, is_object_id, new_id
from mlcycle.server._schemas import ObjectOut
from mlcycle.store import ObjectStore, Workspace
from mlcycle.tracking import get_run

_LINKS = ("reflink", "hardlink", "copy")  # the verified temp file can become the object


def _check_oid(oid: str) -> None:
    if not is_object_id(oid):
        raise InputError(f"object id {oid!r} must be 64 lowercase hex characters (BLAKE3)")


async def receive_object(request: Request, objects: ObjectStore, folder: Path, oid: str) -> int:
    """Stream the request body into the store as object `oid`; return its size in bytes.

    Raises:
        InputError: if the bytes do not hash to `oid` (nothing is stored).
    """
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{new_id()}.part"
    hasher = blake3.blake3()
    size = 0
    try:
        with open(tmp, "wb") as out:
            async for chunk in request.stream():
                hasher.update(chunk)
                out.write(chunk)
                size += len(chunk)
        got = hasher.hexdigest()
        if got != oid:
            raise InputError(
                f"upload of object {oid}: the {size} bytes received hash to {got}; nothing stored"
            )
        await run_in_threadpool(objects.add_file, tmp, oid, _LINKS)
    finally:
        tmp.unlink(missing_ok=True)
    return size


def object_response(objects: ObjectStore, oid: str, filename: str | None = None) -> Response:
    """A streamed response with the bytes of object `oid`.

    Raises:
        NotFound: if the object is not stored.
    """
    local = objects.path_of(oid)
    if local is not None:
        if not local.exists():
            raise NotFound(f"object {oid} is not in the object store")
        return FileResponse(local, media_type="application/octet-stream", filename=filename)
    fd, name = tempfile.mkstemp(prefix="mlcycle-download-")
    os.close(fd)
    try:
        objects.get_file(oid, name)
    except BaseException:
        os.unlink(name)
        raise
    return FileResponse(
        name,
        media_type="application/octet-stream",
        filename=filename,
        background=BackgroundTask(os.unlink, name),
    )


def objects_router(ws: Workspace) -> APIRouter:
    """The object and artifact routes over workspace `ws`'s object store."""
    router = APIRouter(prefix="/api", tags=["artifacts"])
    uploads = ws.state_dir / "uploads"

    @router.put(
        "/objects/{oid}", summary="Upload an object", status_code=201, response_model=ObjectOut
    )
    async def put_object(oid: str, request: Request) -> dict[str, Any]:
        """Store the request body (streamed; any size) as object `oid`, its BLAKE3 hex digest.

        400 if the bytes hash to something else (nothing is stored).
        Uploading an object already stored is harmless.
        """
        _check_oid(oid)
        return {"object_id": oid, "size": await receive_object(request, ws.objects, uploads, oid)}

    @router.head("/objects/{oid}", summary="Check whether an object is stored")
    def has_object(oid: str) -> Response:
        """200 if object `oid` is stored, else 404 (lets clients skip uploads)."""
        _check_oid(oid)
        return Response(status_code=200 if ws.objects.exists(oid) else 404)

    @router.get(
        "/objects/{oid}",
        summary="Download an object",
        response_class=FileResponse,
        responses={200: {"content": {"application/octet-stream": {}}}},
    )
    def get_object(oid: str) -> Response:
        """The bytes of object `oid`, streamed."""
        _check_oid(oid)
        return object_response(ws.objects, oid)

    @router.get(
        "/runs/{run_id}/artifacts/{path:path}",
        summary="Download an artifact of a run",
        response_class=FileResponse,
        responses={200: {"content": {"application/octet-stream": {}}}},
    )
    def get_artifact(run_id: str, path: str) -> Response:
        """The bytes of artifact `path` of run `run_id`, streamed; 404 if either is unknown."""
        run = get_run(ws, run_id)
        oid = run.artifacts.get(path)
        if oid is None:
            raise NotFound(f"Run {run.id} has no artifact {path!r}")
        return object_response(ws.objects, oid, filename=path.rsplit("/", 1)[-1])

    return router
