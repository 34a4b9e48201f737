"""Importing from MLflow: real MLflow stores (a `mlruns` folder and SQLite) round-trip exactly.

The stores are built once per module with the real mlflow client (slow to
import and to migrate a SQLite database); each test imports into a fresh
workspace.
"""

from __future__ import annotations

import math
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlcycle.core import ConfigError, InputError, parse_config
from mlcycle.store import Workspace
from mlcycle.tracking import _mlflow_import as mi
from mlcycle.tracking import get_run, list_runs, metric_keys, metric_series
from mlcycle.tracking._mlflow_import import ImportProgress, import_mlflow

pytest.importorskip("mlflow")

pytestmark = [
    # MLflow's SQL store trips SQLAlchemy 2's deprecation of `noload` when it loads.
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated"),
]

T0 = 1_700_000_000_000  # ms
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Stores:
    """The MLflow stores of the module: tracking URIs and the ids of their runs."""

    file_uri: str
    sqlite_uri: str
    runs: dict[str, dict[str, str]]  # store kind -> run name -> run id
    deleted: dict[str, str]  # store kind -> id of a deleted run


def _populate(client: Any, src: Path) -> tuple[dict[str, str], str]:
    """Two experiments, nested runs, NaN/inf, a 5,000-point series, artifacts in sub-folders."""
    from mlflow.entities import Metric

    a = client.create_experiment("exp-a")
    b = client.create_experiment("exp-b")
    ids = {}
    parent = client.create_run(
        a, start_time=T0, run_name="parent", tags={"mlflow.source.git.commit": COMMIT}
    ).info.run_id
    ids["parent"] = parent
    client.log_param(parent, "lr", 0.1)
    client.log_param(parent, "model", "hgb")
    client.set_tag(parent, "team", "forecast")
    for step, value in enumerate([1.0, math.nan, math.inf, -math.inf, 0.5]):
        client.log_metric(parent, "loss", value, timestamp=T0 + 10 * step, step=step)
    points = [Metric("long", i * 0.001, T0 + i, i) for i in range(5000)]
    for i in range(0, 5000, 1000):
        client.log_batch(parent, metrics=points[i : i + 1000])
    client.log_artifacts(parent, str(src))
    client.log_artifacts(parent, str(src / "sub"), "copy")
    client.set_terminated(parent, "FINISHED", end_time=T0 + 60_000)
    for i, status in enumerate(["FINISHED", "KILLED"]):
        child = client.create_run(
            a,
            start_time=T0 + 1000 * (i + 1),
            run_name=f"child-{i}",
            tags={"mlflow.parentRunId": parent},
        ).info.run_id
        ids[f"child-{i}"] = child
        client.log_param(child, "fold", i)
        client.log_metric(child, "mae", 10.0 + i, timestamp=T0 + 5, step=0)
        client.log_metric(child, "mae", 9.0 + i, timestamp=T0 + 6, step=0)  # same step twice
        client.set_terminated(child, status, end_time=T0 + 2000 * (i + 1))
    ids["running"] = client.create_run(b, start_time=T0 + 5000, run_name="running").info.run_id
    failed = client.create_run(b, start_time=T0 + 6000, run_name="failed").info.run_id
    client.log_metric(failed, "acc", 0.25, timestamp=T0 + 6001, step=3)
    client.set_terminated(failed, "FAILED", end_time=T0 + 7000)
    ids["failed"] = failed
    deleted = client.create_run(a, start_time=T0, run_name="deleted").info.run_id
    client.delete_run(deleted)
    return ids, deleted


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("mlflow")
    src = root / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "model.txt").write_text("weights\n")
    (src / "sub" / "data.bin").write_bytes(np.random.default_rng(0).bytes(300_000))
    (src / "sub" / "deeper" / "report.json").write_text('{"ok": true}')
    runs, deleted = {}, {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        file_uri = (root / "mlruns").as_uri()
        runs["file"], deleted["file"] = _populate(MlflowClient(file_uri), src)
        (root / "sqlite").mkdir()
        mp.chdir(root / "sqlite")  # the SQLite store's default artifact root is ./mlruns
        sqlite_uri = f"sqlite:///{root / 'mlflow.db'}"
        runs["sqlite"], deleted["sqlite"] = _populate(MlflowClient(sqlite_uri), src)
    yield Stores(file_uri, sqlite_uri, runs, deleted)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace(tmp_path / "ws", parse_config({}))
    yield workspace
    workspace.close()


def _uri(stores: Stores, kind: str) -> str:
    return stores.file_uri if kind == "file" else stores.sqlite_uri


def _mlflow_runs(uri: str) -> tuple[list[Any], Any]:
    from mlflow import MlflowClient

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        client = MlflowClient(uri)
        ids = [e.experiment_id for e in client.search_experiments()]
        return list(client.search_runs(ids, max_results=1000)), client


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_everything_round_trips(stores: Stores, ws: Workspace, kind: str) -> None:
    result = import_mlflow(ws, _uri(stores, kind))
    assert (result.runs_imported, result.runs_skipped, result.failed) == (5, 0, [])
    assert result.experiments == 2
    assert result.metric_points == 5 + 5000 + 2 * 2 + 1
    assert (result.artifacts, result.bytes) == (5, 2 * 300_000 + 8 + 2 * 12)
    runs, client = _mlflow_runs(_uri(stores, kind))
    assert {r.id for r in list_runs(ws)} == {r.info.run_id for r in runs}
    for theirs in runs:
        _assert_same_run(ws, client, theirs)


def _assert_same_run(ws: Workspace, client: Any, theirs: Any) -> None:
    info, data = theirs.info, theirs.data
    ours = get_run(ws, info.run_id)
    assert ours.name == info.run_name
    assert ours.experiment == client.get_experiment(info.experiment_id).name
    assert ours.start_time == info.start_time / 1000
    assert ours.end_time == (None if info.end_time is None else info.end_time / 1000)
    assert ours.status == {"KILLED": "FAILED"}.get(info.status, info.status)
    assert ours.environment["mlflow_status"] == info.status
    assert ours.parent_id == data.tags.get("mlflow.parentRunId")
    assert ours.params == data.params
    assert ours.tags == data.tags
    assert metric_keys(ws, info.run_id) == sorted(data.metrics)
    for key in data.metrics:
        history = client.get_metric_history(info.run_id, key)
        got = metric_series(ws, info.run_id, key)
        want = sorted(history, key=lambda m: m.step)  # both stable: same order within a step
        assert got.steps.tolist() == [m.step for m in want]
        assert got.timestamps.tolist() == [m.timestamp / 1000 for m in want]
        np.testing.assert_array_equal(got.values, [mi._value(m.value) for m in want])


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_specific_values_survive(stores: Stores, ws: Workspace, kind: str) -> None:
    import_mlflow(ws, _uri(stores, kind))
    ids = stores.runs[kind]
    parent = get_run(ws, ids["parent"])
    assert (parent.name, parent.status, parent.git_commit) == ("parent", "FINISHED", COMMIT)
    assert (parent.start_time, parent.end_time) == (T0 / 1000, T0 / 1000 + 60)
    assert parent.params == {"lr": "0.1", "model": "hgb"}
    assert parent.tags["team"] == "forecast"
    loss = metric_series(ws, ids["parent"], "loss")
    assert loss.values[0] == 1.0 and math.isnan(loss.values[1])
    assert loss.values[2:4].tolist() == [math.inf, -math.inf]  # SQLite: back from +-max float
    long = metric_series(ws, ids["parent"], "long")
    assert len(long) == 5000 and long.steps.tolist() == list(range(5000))
    assert long.values[4999] == pytest.approx(4.999)
    assert get_run(ws, ids["child-1"]).status == "FAILED"  # KILLED
    assert get_run(ws, ids["child-1"]).parent_id == ids["parent"]
    assert get_run(ws, ids["running"]).status == "RUNNING"
    assert get_run(ws, ids["running"]).end_time is None
    assert metric_series(ws, ids["child-0"], "mae").values.tolist() == [10.0, 9.0]
    with pytest.raises(KeyError):
        get_run(ws, stores.deleted[kind])


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_artifact_bytes_round_trip(stores: Stores, ws: Workspace, kind: str) -> None:
    import_mlflow(ws, _uri(stores, kind))
    arts = get_run(ws, stores.runs[kind]["parent"]).artifacts
    assert sorted(arts) == [
        "copy/data.bin",
        "copy/deeper/report.json",
        "model.txt",
        "sub/data.bin",
        "sub/deeper/report.json",
    ]
    src = Path(_uri(stores, "file")[len("file://") :]).parent / "src"
    assert ws.objects.get_bytes(arts["sub/data.bin"]) == (src / "sub/data.bin").read_bytes()
    assert ws.objects.get_bytes(arts["copy/deeper/report.json"]) == b'{"ok": true}'
    assert arts["copy/data.bin"] == arts["sub/data.bin"]  # same bytes, one object


def test_importing_again_skips_every_run(stores: Stores, ws: Workspace) -> None:
    first = import_mlflow(ws, stores.file_uri)
    chunks = _count_rows(ws, "metric_chunks")
    again = import_mlflow(ws, stores.file_uri)
    assert (again.runs_imported, again.runs_skipped) == (0, first.runs_imported)
    assert (again.metric_points, again.params, again.artifacts, again.bytes) == (0, 0, 0, 0)
    assert _count_rows(ws, "metric_chunks") == chunks


def _count_rows(ws: Workspace, table: str) -> int:
    from sqlalchemy import text

    with ws.db.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_an_interrupted_import_resumes(stores: Stores, ws: Workspace) -> None:
    seen: list[ImportProgress] = []

    def stop_after_two(p: ImportProgress) -> None:
        seen.append(p)
        if p.done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_mlflow(ws, stores.sqlite_uri, progress=stop_after_two)
    assert [p.outcome for p in seen] == ["imported", "imported"]
    assert seen[0].total == 5
    rest = import_mlflow(ws, stores.sqlite_uri)
    assert (rest.runs_imported, rest.runs_skipped) == (3, 2)
    assert len(list_runs(ws)) == 5


def test_a_failed_write_leaves_no_partial_run(
    stores: Stores, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlcycle.tracking._sql import SqlTrackingStore

    victim = stores.runs["file"]["parent"]
    apply = SqlTrackingStore._apply

    def failing(self: SqlTrackingStore, conn: Any, batch: Any) -> Any:
        if batch.run_id == victim:
            raise RuntimeError("disk full")
        return apply(self, conn, batch)

    monkeypatch.setattr(SqlTrackingStore, "_apply", failing)
    with pytest.raises(RuntimeError):
        import_mlflow(ws, stores.file_uri)
    assert victim not in {r.id for r in list_runs(ws)}  # the run row rolled back too
    monkeypatch.setattr(SqlTrackingStore, "_apply", apply)
    import_mlflow(ws, stores.file_uri)
    assert len(metric_series(ws, victim, "long")) == 5000


def test_an_unreadable_run_is_reported_and_retried(
    stores: Stores, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = stores.runs["file"]["parent"]
    read = mi._artifacts

    def gone(client: Any, uri: str, store: Any, run: Any) -> Any:
        if run.info.run_id == victim:
            raise OSError(f"s3://bucket/{victim}/artifacts: access denied")
        return read(client, uri, store, run)

    monkeypatch.setattr(mi, "_artifacts", gone)
    result = import_mlflow(ws, stores.file_uri)
    assert result.failed == [(victim, f"s3://bucket/{victim}/artifacts: access denied")]
    assert (result.runs_imported, result.experiments) == (4, 2)
    assert victim not in {r.id for r in list_runs(ws)}
    monkeypatch.setattr(mi, "_artifacts", read)
    again = import_mlflow(ws, stores.file_uri)
    assert (again.runs_imported, again.runs_skipped, again.failed) == (1, 4, [])
    assert len(get_run(ws, victim).artifacts) == 5


def test_a_store_mlflow_cannot_list_fails_cleanly(
    stores: Stores, ws: Workspace, tmp_path: Path
) -> None:
    copy = tmp_path / "mlruns"
    shutil.copytree(Path(stores.file_uri[len("file://") :]), copy)
    victim = stores.runs["file"]["child-0"]
    next(copy.glob(f"*/{victim}/metrics/mae")).write_text("garbage\n")
    with pytest.raises(InputError, match=r"cannot list the runs of .*Metric 'mae' is malformed"):
        import_mlflow(ws, str(copy))


def test_experiment_filter(stores: Stores, ws: Workspace) -> None:
    result = import_mlflow(ws, stores.sqlite_uri, experiments=["exp-b"])
    assert (result.experiments, result.runs_imported) == (1, 2)
    assert {r.experiment for r in list_runs(ws)} == {"exp-b"}


def test_unknown_experiment_lists_those_there(stores: Stores, ws: Workspace) -> None:
    with pytest.raises(InputError, match=r"'nope' is not in .*exp-a, exp-b"):
        import_mlflow(ws, stores.file_uri, experiments=["nope"])


def test_without_artifacts(stores: Stores, ws: Workspace) -> None:
    result = import_mlflow(ws, stores.file_uri, artifacts=False)
    assert (result.artifacts, result.bytes) == (0, 0)
    assert get_run(ws, stores.runs["file"]["parent"]).artifacts == {}


def test_artifacts_are_downloaded_when_not_local(
    stores: Stores, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mi, "_local_artifact_dir", lambda uri, run: None)
    result = import_mlflow(ws, stores.sqlite_uri)
    assert (result.artifacts, result.bytes) == (5, 2 * 300_000 + 8 + 2 * 12)


def test_the_file_store_switch_is_not_left_on(stores: Stores, ws: Workspace) -> None:
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ
    import_mlflow(ws, stores.file_uri, artifacts=False)
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ


def test_bad_uris_fail_cleanly_and_create_nothing(ws: Workspace, tmp_path: Path) -> None:
    missing = tmp_path / "nothing" / "mlruns"
    with pytest.raises(InputError, match="does not exist"):
        import_mlflow(ws, str(missing))
    with pytest.raises(InputError, match="does not exist"):
        import_mlflow(ws, missing.as_uri())
    assert not missing.exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not an MLflow file store"):
        import_mlflow(ws, str(tmp_path / "empty"))
    with pytest.raises(InputError, match="no database file"):
        import_mlflow(ws, f"sqlite:///{tmp_path / 'none.db'}")
    assert not (tmp_path / "none.db").exists()
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(InputError, match="not an MLflow database"):
        import_mlflow(ws, f"sqlite:///{tmp_path / 'other.db'}")
    with pytest.raises(InputError, match="unsupported scheme 'ftp'"):
        import_mlflow(ws, "ftp://host/mlruns")
    assert list_runs(ws) == []


def test_an_unreachable_database_names_it_without_the_password(ws: Workspace) -> None:
    with pytest.raises(ConfigError) as err:
        import_mlflow(ws, "postgresql://me:s3cret@127.0.0.1:1/mlflow")
    assert "cannot open MLflow database 'postgresql://me:***@127.0.0.1:1/mlflow'" in str(err.value)
    assert "s3cret" not in str(err.value) and "\n" not in str(err.value)


def test_missing_mlflow_says_how_to_install(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "mlflow", None)
    with pytest.raises(ConfigError, match=r"pip install 'mlcycle\[mlflow\]'"):
        import_mlflow(ws, "mlruns")


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_fast_history_readers_match_the_mlflow_client(stores: Stores, kind: str) -> None:
    runs, client = _mlflow_runs(_uri(stores, kind))
    uri = _uri(stores, kind)
    with mi._history_reader(client, uri) as fast:
        assert isinstance(fast, mi._FileHistories if kind == "file" else mi._SqlHistories)
        for run in runs:
            got = fast(run)
            for key in run.data.metrics:
                want = mi._client_history(client, run.info.run_id, key)
                assert got[key].steps == want.steps
                assert got[key].timestamps == want.timestamps
                np.testing.assert_array_equal(got[key].values, want.values)


@pytest.mark.postgres
def test_a_postgresql_store(postgres_url: str, ws: Workspace, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(postgres_url)
    exp = client.create_experiment("pg", artifact_location=(tmp_path / "art").as_uri())
    run = client.create_run(exp, start_time=T0, run_name="on-pg").info.run_id
    client.log_metric(run, "loss", math.inf, timestamp=T0, step=0)
    client.log_metric(run, "loss", math.nan, timestamp=T0 + 1, step=1)
    client.log_text(run, "hello", "notes/hi.txt")
    client.set_terminated(run, "FINISHED", end_time=T0 + 1000)
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")  # as teams write it
    result = import_mlflow(ws, plain)
    assert (result.runs_imported, result.artifacts, result.failed) == (1, 1, [])
    values = metric_series(ws, run, "loss").values
    assert values[0] == math.inf and math.isnan(values[1])
    assert ws.objects.get_bytes(get_run(ws, run).artifacts["notes/hi.txt"]) == b"hello"


def test_run_ids_are_kept_or_mapped_stably() -> None:
    assert mi.our_id("0123456789abcdef0123456789abcdef") == "0123456789abcdef0123456789abcdef"
    custom = mi.our_id("my-custom-run-1")
    assert len(custom) == 32 and int(custom, 16) >= 0
    assert custom == mi.our_id("my-custom-run-1") != mi.our_id("my-custom-run-2")
