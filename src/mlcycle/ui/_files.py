"""Files the pages link to: run artifacts, workspace reports, the UI's own static files.

Artifacts stream from the object store: a local store's file is sent as
it is (in chunks, never read whole); a remote one is first copied to a
temporary file (hash-verified by :meth:`ObjectStore.get_file`), sent, then
deleted. Artifacts are always downloads (`Content-Disposition: attachment`),
so a stored HTML file never runs in the UI's origin. Reports and static
files are served from their folder only: a path that leaves it is not found.
"""

from __future__ import annotations

import mimetypes
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from starlette.background import BackgroundTask
from starlette.responses import FileResponse

from mlcycle.core import NotFound
from mlcycle.store import Workspace
from mlcycle.tracking import get_run
from mlcycle.ui._templates import STATIC_DIR

_STATIC_CACHE = "public, max-age=3600"


def _media_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def artifact_response(ws: Workspace, run_id: str, path: str) -> FileResponse:
    """The download of artifact `path` of run `run_id`.

    Raises:
        RunNotFound: if the run does not exist.
        NotFound: if the run has no such artifact or its object is missing.
    """
    run = get_run(ws, run_id)
    oid = run.artifacts.get(path)
    if oid is None:
        raise NotFound(f"Run '{run.id}' has no artifact '{path}'")
    name = PurePosixPath(path).name or "artifact"
    local = ws.objects.path_of(oid)
    if local is not None:
        if not local.is_file():
            raise NotFound(f"object {oid} of artifact '{path}' is not in the object store")
        return FileResponse(local, media_type=_media_type(name), filename=name)
    tmp = Path(tempfile.mkdtemp(prefix="mlcycle-artifact-"))
    try:
        copy = ws.objects.get_file(oid, tmp / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    cleanup = BackgroundTask(shutil.rmtree, tmp, ignore_errors=True)
    return FileResponse(copy, media_type=_media_type(name), filename=name, background=cleanup)


def inside(root: Path, relative: str) -> Path:
    """The file `relative` under `root`.

    Raises:
        NotFound: if it is not a file, or the path leaves `root` (`..`, links).
    """
    base = root.resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base) or not target.is_file():
        raise NotFound(f"No file '{relative}' in {root.name}/")
    return target


def report_response(ws: Workspace, path: str) -> FileResponse:
    """A file of the workspace's `reports/` folder, shown inline (HTML reports are offline pages).

    Raises:
        NotFound: if there is no such file.
    """
    target = inside(ws.reports_dir, path)
    return FileResponse(target, media_type=_media_type(target.name))


def static_response(path: str) -> FileResponse:
    """A static file of the UI (CSS, JavaScript), cacheable for an hour.

    Raises:
        NotFound: if there is no such file.
    """
    target = inside(STATIC_DIR, path)
    return FileResponse(
        target, media_type=_media_type(target.name), headers={"Cache-Control": _STATIC_CACHE}
    )
