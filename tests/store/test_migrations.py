"""The metadata database on SQLite and PostgreSQL: migrations, models and URLs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, select, text

from mlcycle.core import Config, ConfigError, MlcycleError
from mlcycle.store import Database, Workspace, alembic_config, upgrade_to_head
from mlcycle.store._db import HEAD_REVISION, VERSION_TABLE
from mlcycle.store.schema import Base, ExperimentRow

ORM_TABLES = set(Base.metadata.tables)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: a new SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        yield request.getfixturevalue("postgres_url")


def _head(engine) -> str:  # type: ignore[no-untyped-def]
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def test_head_revision_constant_is_alembic_head(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    assert _head(engine) == HEAD_REVISION


def test_orm_tables_cover_the_design() -> None:
    assert {
        "experiments", "runs", "params", "metric_chunks", "latest_metrics", "ingested_batches",
        "tags", "artifacts", "dataset_versions", "run_inputs", "registered_models",
        "model_versions", "aliases", "audit_events", "inference_log", "labels", "alerts",
        "run_lineage", "loop_leases", "loop_state",
    } == ORM_TABLES  # fmt: skip


def test_migrations_to_head_create_all_tables(any_workspace: Workspace) -> None:
    assert set(any_workspace.db.table_names()) == ORM_TABLES | {VERSION_TABLE}


def test_upgrade_empty_database_matches_orm_models(empty_db_url: str) -> None:
    engine = create_engine(empty_db_url)
    try:
        assert inspect(engine).get_table_names() == []
        upgrade_to_head(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
            )
            assert context.get_current_revision() == _head(engine)
            diff = compare_metadata(context, Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_upgrade_to_head_is_idempotent(empty_db_url: str) -> None:
    engine = create_engine(empty_db_url)
    try:
        upgrade_to_head(engine)
        upgrade_to_head(engine)
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM mlcycle_alembic_version")).all()
        assert [v[0] for v in versions] == [_head(engine)]
    finally:
        engine.dispose()


def test_open_same_workspace_twice(any_workspace: Workspace) -> None:
    with any_workspace.db.session() as s:
        s.add(ExperimentRow(id="e" * 32, name="exp", created_at=1.0))
    # A second handle on the same root and config, while the first is open.
    with Workspace(any_workspace.root, any_workspace.config) as second:
        assert second.db.url == any_workspace.db.url
        assert set(second.db.table_names()) == ORM_TABLES | {VERSION_TABLE}
        with second.db.session() as s:
            assert s.scalars(select(ExperimentRow.name)).all() == ["exp"]
        with second.db.engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM mlcycle_alembic_version")).all()
        assert [r[0] for r in rows] == [_head(second.db.engine)]
    # The first handle still works after the second closed.
    with any_workspace.db.session() as s:
        assert s.get(ExperimentRow, "e" * 32) is not None


def test_session_rolls_back_on_error(any_workspace: Workspace) -> None:
    with pytest.raises(RuntimeError), any_workspace.db.session() as s:
        s.add(ExperimentRow(id="f" * 32, name="gone", created_at=1.0))
        s.flush()
        raise RuntimeError("abort")
    with any_workspace.db.session() as s:
        assert s.get(ExperimentRow, "f" * 32) is None


def test_workspace_layout(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    assert workspace.state_dir == workspace.root / ".mlcycle"
    assert (workspace.state_dir / "objects").is_dir()
    assert not (workspace.state_dir / "mlcycle.db").exists()  # opened on first use
    assert workspace.db.url.startswith("sqlite:///")
    assert (workspace.state_dir / "mlcycle.db").is_file()
    workspace.close()


def test_sqlite_runs_in_wal_mode(workspace: Workspace) -> None:
    with workspace.db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


@pytest.mark.parametrize(
    "url", ["not a url", "nosuchdialect://host/db", "postgresql+nosuchdriver://h/db"]
)
def test_bad_db_url_is_config_error(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match="database URL"):
        Database(url)
    with pytest.raises(ConfigError):
        _ = Workspace(tmp_path / "ws", Config(db_url=url)).db


def test_unreachable_server_is_mlcycle_error_not_config_error() -> None:
    # Port 9 (discard) is not among the machine's listening ports: connection refused.
    url = "postgresql+psycopg://postgres@127.0.0.1:9/none?connect_timeout=5"
    with pytest.raises(MlcycleError, match="cannot open database") as info:
        Database(url)
    assert not isinstance(info.value, ConfigError)


def test_workspace_from_revision_0001_upgrades_and_keeps_rows(empty_db_url: str) -> None:
    """A database made by the first release (Alembic's default version table,
    revision 0001) moves to the mlcycle version table and gains the new columns."""
    engine = create_engine(empty_db_url)
    try:
        _upgrade_with_default_version_table(alembic_config(engine), "0001")
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO dataset_versions (dataset, version, object_id, source, size, rows, "
                "schema, created_at) VALUES ('hour', 1, :oid, 'hour.csv', 10, 3, '{}', 1.0)"
            ), {"oid": "a" * 64})  # fmt: skip
        upgrade_to_head(engine)
        tables = set(inspect(engine).get_table_names())
        assert VERSION_TABLE in tables and "alembic_version" not in tables
        with engine.connect() as conn:
            row = conn.execute(text("SELECT kind, files, rows FROM dataset_versions")).one()
        assert tuple(row) == ("file", 1, 3)
    finally:
        engine.dispose()


def _upgrade_with_default_version_table(cfg: object, revision: str) -> None:
    """Run the migrations up to `revision` recording them in `alembic_version`,
    as the first release did."""
    from alembic.runtime.environment import EnvironmentContext
    from alembic.script import ScriptDirectory as Scripts

    script = Scripts.from_config(cfg)  # type: ignore[arg-type]
    engine = cfg.attributes["engine"]  # type: ignore[attr-defined]

    def upgrade(rev, context):  # type: ignore[no-untyped-def]
        return script._upgrade_revs(revision, rev)

    with EnvironmentContext(cfg, script, fn=upgrade) as env, engine.begin() as conn:  # type: ignore[arg-type]
        env.configure(connection=conn, target_metadata=Base.metadata,
                      render_as_batch=conn.dialect.name == "sqlite")  # fmt: skip
        env.run_migrations()


def test_revision_0002_metric_points_move_into_chunks(empty_db_url: str, tmp_path: Path) -> None:
    """One row per point (revision 0002) becomes one packed chunk per series plus the
    latest value, with the history in step order."""
    from alembic import command

    from mlcycle.tracking import metric_series
    from mlcycle.tracking._queries import _records, _runs

    engine = create_engine(empty_db_url)
    try:
        command.upgrade(alembic_config(engine), "0002")
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO experiments (id, name, created_at) VALUES ('e', 'exp', 1.0)")
            )
            conn.execute(
                text(
                    "INSERT INTO runs (id, experiment_id, name, status, start_time, environment) "
                    "VALUES ('r', 'e', 'old', 'FINISHED', 1.0, '{}')"
                )
            )
            for step, value in [(1, 0.5), (0, 1.0), (2, 0.25)]:
                conn.execute(
                    text(
                        "INSERT INTO metrics (run_id, key, step, value, timestamp) "
                        "VALUES ('r', 'loss', :s, :v, 2.0)"
                    ),
                    {"s": step, "v": value},
                )
        upgrade_to_head(engine)
    finally:
        engine.dispose()
    ws = Workspace(tmp_path / "ws", Config(db_url=empty_db_url))
    try:
        series = metric_series(ws, "r", "loss")
        assert series.steps.tolist() == [0, 1, 2]
        assert series.values.tolist() == [1.0, 0.5, 0.25]
        with ws.db.session() as s:
            record = _records(s, s.execute(_runs()).all())[0]
        assert record.metrics == {"loss": 0.25}
    finally:
        ws.close()
