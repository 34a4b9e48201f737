"""The metadata database: a SQLAlchemy engine migrated to head by Alembic.

SQLite files run in WAL mode with a 30 s busy timeout so a model server
and a training process can share one workspace database; any other
SQLAlchemy URL (e.g. `postgresql+psycopg://...`) works unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from mlcycle.core import ConfigError, MlcycleError

MIGRATIONS = Path(__file__).parent / "migrations"
#: Alembic's version table for mlcycle's schema. Not the default `alembic_version`:
#: Optuna's RDB storage keeps its own migrations in that name, in the same database.
VERSION_TABLE = "mlcycle_alembic_version"
_FIRST_REVISION = "0001"
#: The newest migration; a test checks it is Alembic's head. Opening a database
#: already at this revision skips loading Alembic (a third of a CLI call's time).
HEAD_REVISION = "0004"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _make_engine(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ImportError) as err:
        raise ConfigError(f"database URL {url!r} is not usable: {err}") from None


def alembic_config(engine: Engine) -> Any:
    """Return an Alembic `Config` for mlcycle's migrations bound to `engine`."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def _adopt_legacy_version_table(engine: Engine) -> None:
    """Rename the `alembic_version` table of a workspace made before revision 0002."""
    tables = inspect(engine).get_table_names()
    if "alembic_version" not in tables or VERSION_TABLE in tables or "runs" not in tables:
        return
    with engine.begin() as conn:
        revisions = {r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))}
        if revisions == {_FIRST_REVISION}:
            conn.execute(text(f"ALTER TABLE alembic_version RENAME TO {VERSION_TABLE}"))


def _current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    except (OperationalError, ProgrammingError):  # no version table yet
        return None
    return rows[0][0] if len(rows) == 1 else None


def upgrade_to_head(engine: Engine) -> None:
    """Apply every pending Alembic migration to the database behind `engine`."""
    if _current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command

    _adopt_legacy_version_table(engine)
    command.upgrade(alembic_config(engine), "head")


class Database:
    """A migrated metadata database and its session factory.

    Thread-safe: each :meth:`session` call opens its own session.

    Args:
        url: SQLAlchemy URL, e.g. `sqlite:///path/mlcycle.db`.
        before_session: called with this database at the start of every
            :meth:`session` (a workspace applies its pending dataset versions there).

    Raises:
        ConfigError: if the URL is malformed or its driver is missing.
        MlcycleError: if the server cannot be reached.
    """

    def __init__(
        self, url: str, before_session: Callable[[Database], object] | None = None
    ) -> None:
        self.url = url
        self._before_session = before_session
        self.engine = _make_engine(url)
        try:
            upgrade_to_head(self.engine)
        except OperationalError as err:
            shown = make_url(url).render_as_string(hide_password=True)
            raise MlcycleError(f"cannot open database {shown!r}: {err.orig}") from None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session in one transaction: committed on exit, rolled back on error."""
        if self._before_session is not None:
            self._before_session(self)
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """:meth:`session` without the `before_session` hook (for the hook itself)."""
        with self._sessions.begin() as session:
            yield session

    def table_names(self) -> list[str]:
        """Return the names of the tables in the database."""
        return sorted(inspect(self.engine).get_table_names())

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()
