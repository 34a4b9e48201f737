"""Copy experiments and runs from an MLflow tracking store into a workspace.

The source is any store MLflow's own client reads: a file store (a
`mlruns` folder or a `file://` URI), a database (`sqlite:///mlflow.db`,
`postgresql://...`, `mysql://...`) or a tracking server (`http(s)://`).
What maps to what (see docs/mlflow-import.md)::

    MLflow                              mlcycle
    experiment name                     experiment name (as is, "Default" too)
    run id (32 hex)                     run id (the same: re-imports skip it; other
                                        ids map to a UUID5 of themselves)
    run_name / tag mlflow.runName       run name
    tag mlflow.parentRunId              parent_id
    tag mlflow.source.git.commit        git_commit
    status FINISHED / FAILED / RUNNING  the same; KILLED -> FAILED, SCHEDULED -> RUNNING
    start_time, end_time (ms)           seconds since the epoch
    params, tags (all, mlflow.* too)    params, tags
    metric history (step, value, ms)    every point: step, value, seconds
    artifacts (every file)              artifacts, same relative paths, streamed
    experiment id, user, status, URI    environment["mlflow_*"]

Each run is written in one transaction (run row, params, tags, metrics,
artifact records), so an interrupted import never leaves a partial run
behind, and running it again picks up where it stopped. Deleted
experiments and runs are not imported.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from mlcycle.core import ConfigError, InputError, now
from mlcycle.store import Workspace
from mlcycle.tracking._batch import MetricColumns, NewRun, RunBatch, check_key
from mlcycle.tracking._sql import SqlTrackingStore
from mlcycle.tracking._store import store_for

_INSTALL_HINT = "pip install 'mlcycle[mlflow]'"
_STATUS = {"KILLED": "FAILED", "SCHEDULED": "RUNNING"}
_DB_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_BIG = sys.float_info.max  # MLflow's SQL stores keep +-inf as +-max float


@dataclass(frozen=True)
class ImportProgress:
    """Where an import stands, after each run.

    Attributes:
        total: runs to go through (all experiments selected).
        done: runs gone through so far (imported, skipped or failed).
        run_id: the run just handled (its mlcycle id: see :func:`our_id`).
        experiment: its experiment's name.
        outcome: "imported", "skipped" (already in the workspace) or "failed".
    """

    total: int
    done: int
    run_id: str
    experiment: str
    outcome: str


@dataclass
class ImportResult:
    """What an import copied. Counts are of the runs imported by this call.

    Attributes:
        uri: the source, password hidden.
        experiments: experiments holding at least one imported or skipped run.
        runs_imported: runs written by this call.
        runs_skipped: runs already in the workspace (imported before).
        failed: `(MLflow run id, reason)` per run that could not be read; not
            written, so a later import retries it.
        params, metric_points, tags, artifacts: how many were written.
        bytes: total size of the artifacts written.
        seconds: wall time of the import.
    """

    uri: str
    experiments: int = 0
    runs_imported: int = 0
    runs_skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    params: int = 0
    metric_points: int = 0
    tags: int = 0
    artifacts: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {**asdict(self), "failed": [list(f) for f in self.failed]}


def import_mlflow(
    ws: Workspace,
    uri: str,
    *,
    experiments: Sequence[str] | None = None,
    artifacts: bool = True,
    progress: Callable[[ImportProgress], None] | None = None,
) -> ImportResult:
    """Copy the runs of an MLflow tracking store into `ws` (module docstring: the mapping).

    Runs already in `ws` (same id) are skipped, so importing again is safe
    and resumes an interrupted import. A run that cannot be read (e.g. its
    artifacts are gone) is reported in `ImportResult.failed` and not written.

    Args:
        ws: the workspace to import into.
        uri: the MLflow tracking URI: a `mlruns` folder, `file://...`,
            `sqlite:///mlflow.db`, `postgresql://...` or `http(s)://...`.
        experiments: names (or MLflow ids) of the experiments to import;
            None imports all active experiments.
        artifacts: whether to copy artifact files (streamed, one run at a time).
        progress: called after each run.

    Returns:
        The counts of what was imported and skipped.

    Raises:
        ConfigError: if mlflow is not installed, or the URI names a database
            that cannot be reached or whose MLflow schema is out of date.
        InputError: if the URI is not an MLflow store, or an experiment
            in `experiments` does not exist there.
    """
    started = time.perf_counter()
    mlflow = _load_mlflow()
    source, shown = _check_uri(uri)
    store = store_for(ws)
    if not isinstance(store, SqlTrackingStore):  # pragma: no cover - store_for is SQL today
        raise ConfigError(f"importing needs a workspace database; got store {store.uri}")
    result = ImportResult(uri=shown)
    with _file_store_allowed(source):
        client = _client(mlflow, source, shown)
        selected = _experiments(client, experiments, shown)
        runs = _runs(client, list(selected), shown)
        with _history_reader(client, source) as histories:
            job = _Importer(client, source, store, artifacts, result, histories)
            seen: set[str] = set()
            for i, run in enumerate(runs, 1):
                name = selected[run.info.experiment_id]
                outcome = job.run(run, name)
                if outcome != "failed":
                    seen.add(name)
                if progress is not None:
                    progress(ImportProgress(len(runs), i, our_id(run.info.run_id), name, outcome))
    result.experiments = len(seen)
    result.seconds = time.perf_counter() - started
    return result


def _load_mlflow() -> Any:
    try:
        import mlflow
    except ImportError:
        raise ConfigError(f"importing from MLflow needs mlflow: {_INSTALL_HINT}") from None
    return mlflow


def _check_uri(uri: str) -> tuple[str, str]:
    """Return `(uri for MLflow, uri to show)`; refuse what MLflow would create instead of read.

    Raises:
        InputError, ConfigError: see :func:`import_mlflow`.
    """
    scheme = urlparse(uri).scheme.split("+")[0].lower()
    if scheme in ("", "file") or len(scheme) == 1:  # a path (C:\ on Windows) or file://
        return _check_folder(uri), uri
    if scheme in _DB_SCHEMES:
        return _check_database(uri)
    if scheme in ("http", "https", "databricks"):
        return uri, uri
    raise InputError(
        f"MLflow tracking URI {uri!r} has an unsupported scheme {scheme!r}; use a mlruns "
        "folder, file://, sqlite:///, postgresql://, mysql:// or http(s)://"
    )


def _check_folder(uri: str) -> str:
    path = Path(unquote(urlparse(uri).path) if uri.startswith("file:") else uri).expanduser()
    if not path.is_dir():
        raise InputError(f"MLflow tracking URI {uri!r}: folder {path} does not exist")
    if not any(path.glob("*/meta.yaml")):
        raise InputError(
            f"MLflow tracking URI {uri!r}: {path} is not an MLflow file store "
            "(no experiment folder with a meta.yaml)"
        )
    return path.resolve().as_uri()


def _check_database(uri: str) -> tuple[str, str]:
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    try:
        url = make_url(uri)
    except ArgumentError:
        raise InputError(f"MLflow tracking URI {uri!r} is not a database URL") from None
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        raise InputError(f"MLflow tracking URI {shown!r}: no database file {url.database!r}")
    if url.drivername == "postgresql" and not _has_module("psycopg2") and _has_module("psycopg"):
        url = url.set(drivername="postgresql+psycopg")  # the driver mlcycle[postgres] installs
    args = {"connect_timeout": 10} if url.get_backend_name() == "postgresql" else {}
    try:
        engine = create_engine(url, connect_args=args)
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
        engine.dispose()
    except (SQLAlchemyError, ImportError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"cannot open MLflow database {shown!r}: {first}") from None
    if not {"experiments", "runs", "metrics"} <= tables:
        raise InputError(f"MLflow tracking URI {shown!r} is not an MLflow database (no runs table)")
    return url.render_as_string(hide_password=False), shown


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


@contextlib.contextmanager
def _file_store_allowed(uri: str) -> Iterator[None]:
    """Let MLflow 3 open a file store (it refuses unless `MLFLOW_ALLOW_FILE_STORE`) meanwhile."""
    if not uri.startswith("file:") or "MLFLOW_ALLOW_FILE_STORE" in os.environ:
        yield
        return
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)


def _client(mlflow: Any, uri: str, shown: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        client = mlflow.MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)  # opens the store: schema checks happen here
    except MlflowException as err:
        raise ConfigError(f"cannot read MLflow store {shown!r}: {_first_line(err)}") from None
    return client


def _experiments(client: Any, wanted: Sequence[str] | None, shown: str) -> dict[str, str]:
    """Return `{MLflow experiment id: name}` of the active experiments selected by `wanted`."""
    found: dict[str, str] = {}
    token = None
    while True:
        page = client.search_experiments(max_results=1000, page_token=token)
        found.update({e.experiment_id: e.name for e in page})
        token = page.token
        if not token:
            break
    if wanted is None:
        return found
    missing = [w for w in wanted if w not in found.values() and w not in found]
    if missing:
        have = ", ".join(sorted(found.values())) or "none"
        raise InputError(f"MLflow experiment {missing[0]!r} is not in {shown!r}; it has: {have}")
    return {i: n for i, n in found.items() if n in wanted or i in wanted}


def _runs(client: Any, experiment_ids: list[str], shown: str) -> list[Any]:
    """Return every active run of the experiments, oldest first.

    Raises:
        InputError: if MLflow cannot list them (e.g. a corrupt file store).
    """
    from mlflow.exceptions import MlflowException

    runs: list[Any] = []
    token = None
    while experiment_ids:
        try:
            page = client.search_runs(
                experiment_ids,
                max_results=1000,
                order_by=["attributes.start_time ASC"],
                page_token=token,
            )
        except MlflowException as err:
            raise InputError(f"cannot list the runs of {shown!r}: {_first_line(err)}") from None
        runs.extend(page)
        token = page.token
        if not token:
            break
    return runs


@dataclass
class _Importer:
    """Imports runs one by one from an open MLflow client into `store`, counting in `result`."""

    client: Any
    uri: str
    store: SqlTrackingStore
    artifacts: bool
    result: ImportResult
    histories: Callable[[Any], dict[str, MetricColumns]]

    def run(self, run: Any, experiment: str) -> str:
        """Import `run` unless it is there; return the outcome (see :class:`ImportProgress`)."""
        from mlflow.exceptions import MlflowException

        run_id = our_id(run.info.run_id)
        if self.store.run_exists(run_id):
            self.result.runs_skipped += 1
            return "skipped"
        try:
            new, batch = self._read(run, experiment)
        except (MlflowException, OSError, InputError) as err:
            self.result.failed.append((run.info.run_id, _first_line(err)))
            return "failed"
        if not self.store.import_run(new, batch):
            self.result.runs_skipped += 1  # another import got there first
            return "skipped"
        self._count(batch)
        return "imported"

    def _read(self, run: Any, experiment: str) -> tuple[NewRun, RunBatch]:
        """Fetch everything of `run`; its artifact files go to the object store now."""
        params = {check_key("param", k): str(v) for k, v in run.data.params.items()}
        batch = RunBatch(our_id(run.info.run_id), params=params, tags=_tags(run))
        batch.metrics = self.histories(run)
        if self.artifacts:
            batch.artifacts = _artifacts(self.client, self.uri, self.store, run)
        return _new_run(run, experiment, self.uri), batch

    def _count(self, batch: RunBatch) -> None:
        r = self.result
        r.runs_imported += 1
        r.params += len(batch.params)
        r.tags += len(batch.tags)
        r.metric_points += batch.points()
        r.artifacts += len(batch.artifacts)
        r.bytes += sum(size for _, size in batch.artifacts.values())


def _new_run(run: Any, experiment: str, uri: str) -> NewRun:
    info, tags = run.info, run.data.tags
    commit = tags.get("mlflow.source.git.commit")
    start = info.start_time if info.start_time is not None else (info.end_time or 0)
    parent = tags.get("mlflow.parentRunId")
    return NewRun(
        id=our_id(info.run_id),
        experiment=experiment,
        name=(info.run_name or tags.get("mlflow.runName") or info.run_id[:8])[:256],
        start_time=start / 1000,
        parent_id=our_id(parent) if parent else None,
        git_commit=commit if commit and len(commit) <= 40 else None,
        environment={
            "source": "mlflow",
            "mlflow_tracking_uri": _hide_password(uri),
            "mlflow_run_id": info.run_id,
            "mlflow_experiment_id": info.experiment_id,
            "mlflow_status": info.status,
            "mlflow_user": info.user_id or "",
            "mlflow_artifact_uri": info.artifact_uri or "",
            "imported_at": now(),
        },
        status=_STATUS.get(info.status, info.status),
        end_time=None if info.end_time is None else info.end_time / 1000,
    )


def our_id(mlflow_id: str) -> str:
    """The mlcycle id of an MLflow run: the same if it is 32 hex (MLflow's own ids), else
    a UUID5 of it (some stores, e.g. Databricks, accept other ids), so re-imports still match.
    """
    if _HEX32.fullmatch(mlflow_id):
        return mlflow_id
    return uuid.uuid5(uuid.NAMESPACE_URL, f"mlflow-run:{mlflow_id}").hex


def _tags(run: Any) -> dict[str, str]:
    return {check_key("tag", k): str(v) for k, v in run.data.tags.items()}


@contextlib.contextmanager
def _history_reader(client: Any, uri: str) -> Iterator[Callable[[Any], dict[str, MetricColumns]]]:
    """How to read every metric history of a run.

    From a database, one query per run; from a file store, one file per
    metric (each 3-10x faster than a client call per metric); else the
    MLflow client.
    """
    scheme = urlparse(uri).scheme.split("+")[0]
    if scheme in _DB_SCHEMES:
        reader = _SqlHistories(uri)
        try:
            yield reader
        finally:
            reader.engine.dispose()
    elif scheme == "file":
        yield _FileHistories(client, Path(unquote(urlparse(uri).path)))
    else:
        yield lambda run: {k: _client_history(client, run.info.run_id, k) for k in run.data.metrics}


def _value(value: float) -> float:
    """A metric value as logged: MLflow's SQL stores keep +-inf as +-max float."""
    return value if abs(value) != _BIG else value * float("inf")


def _client_history(client: Any, run_id: str, key: str) -> MetricColumns:
    col = MetricColumns()
    for m in client.get_metric_history(run_id, check_key("metric", key)):
        col.steps.append(int(m.step))
        col.values.append(_value(float(m.value)))
        col.timestamps.append(m.timestamp / 1000)
    return col


class _SqlHistories:
    """Every point of every metric of a run, in one query on MLflow's `metrics` table."""

    def __init__(self, uri: str) -> None:
        from sqlalchemy import column, create_engine, select, table

        self.engine = create_engine(uri)
        m = table(
            "metrics",
            *(column(c) for c in ("run_uuid", "key", "step", "value")),
            column("is_nan"),
            column("timestamp"),
        )
        self.query = select(m.c.key, m.c.step, m.c.value, m.c.is_nan, m.c.timestamp).order_by(
            m.c.key, m.c.timestamp, m.c.step, m.c.value
        )  # MLflow's history order
        self.run_uuid = m.c.run_uuid

    def __call__(self, run: Any) -> dict[str, MetricColumns]:
        out: dict[str, MetricColumns] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(self.query.where(self.run_uuid == run.info.run_id))
            for key, step, value, is_nan, stamp in rows:
                col = out.get(key) or out.setdefault(check_key("metric", key), MetricColumns())
                col.steps.append(int(step))
                col.values.append(float("nan") if is_nan else _value(float(value)))
                col.timestamps.append(stamp / 1000)
        return out


class _FileHistories:
    """Every point of every metric of a run, read from the file store's metric files.

    A line is `timestamp(ms) value [step [dataset_name dataset_digest]]`.
    """

    def __init__(self, client: Any, root: Path) -> None:
        self.client = client
        self.root = root

    def __call__(self, run: Any) -> dict[str, MetricColumns]:
        folder = self.root / run.info.experiment_id / run.info.run_id / "metrics"
        out = {}
        for key in run.data.metrics:
            path = folder / check_key("metric", key)
            if not path.is_file():  # not where a file store keeps it: ask MLflow
                out[key] = _client_history(self.client, run.info.run_id, key)
                continue
            out[key] = _read_metric_file(path)
        return out


def _read_metric_file(path: Path) -> MetricColumns:
    """Parse a file store's metric file.

    Raises:
        InputError: naming the file and line, if a line is malformed.
    """
    col = MetricColumns()
    with path.open(encoding="utf-8") as lines:
        for i, line in enumerate(lines, 1):
            parts = line.split()
            try:
                stamp, value = int(parts[0]) / 1000, float(parts[1])
                step = int(parts[2]) if len(parts) > 2 else 0
            except (IndexError, ValueError):
                raise InputError(f"MLflow metric file {path}, line {i}: {line.strip()!r}") from None
            col.timestamps.append(stamp)
            col.values.append(value)
            col.steps.append(step)
    return col


def _artifacts(
    client: Any, uri: str, store: SqlTrackingStore, run: Any
) -> dict[str, tuple[str, int]]:
    """Store every artifact file of `run` (streamed); return `{relative path: (oid, bytes)}`."""
    local = _local_artifact_dir(uri, run)
    if local is not None:
        return _put_tree(store, local)
    if not client.list_artifacts(run.info.run_id):
        return {}
    with tempfile.TemporaryDirectory(prefix="mlcycle-mlflow-") as tmp:
        root = client.download_artifacts(run.info.run_id, "", tmp)
        return _put_tree(store, Path(root))


def _local_artifact_dir(uri: str, run: Any) -> Path | None:
    """The run's artifact folder if it is local, else None (download it).

    A file store that was moved still holds the artifacts at
    `<root>/<experiment id>/<run id>/artifacts`; a local folder that does
    not exist means no artifacts (MLflow creates it on the first one).
    """
    art = run.info.artifact_uri or ""
    scheme = urlparse(art).scheme
    if scheme not in ("", "file") and len(scheme) != 1:
        return None
    path = Path(unquote(urlparse(art).path) if art.startswith("file:") else art)
    if path.is_dir():
        return path
    if uri.startswith("file:"):
        moved = Path(unquote(urlparse(uri).path), run.info.experiment_id, run.info.run_id)
        return moved / "artifacts"
    return path


def _put_tree(store: SqlTrackingStore, root: Path) -> dict[str, tuple[str, int]]:
    if not root.is_dir():
        return {}
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        out[path.relative_to(root).as_posix()] = store.put_artifact(path)
    return out


def _hide_password(uri: str) -> str:
    if urlparse(uri).scheme.split("+")[0] not in _DB_SCHEMES:
        return uri
    from sqlalchemy.engine import make_url

    return make_url(uri).render_as_string(hide_password=True)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
