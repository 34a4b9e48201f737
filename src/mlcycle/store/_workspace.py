"""A workspace: a folder with `mlcycle.yaml` and the hidden `.mlcycle/` state."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.core import CONFIG_FILE
from mlcycle.store._objects import ObjectStore

if TYPE_CHECKING:
    from mlcycle.core import Config
    from mlcycle.store._db import Database

STATE_DIR = ".mlcycle"


class Workspace:
    """The metadata database, object store and folders of one workspace.

    Layout: `mlcycle.yaml`, `.mlcycle/mlcycle.db` (SQLite, unless
    `config.db_url` says otherwise), `.mlcycle/objects/` (unless
    `config.objects_url`), `.mlcycle/packages/` (unpacked model packages),
    `reports/` (HTML and JSON reports for people).

    Args:
        root: the workspace folder; created if missing.
        config: the parsed configuration (see :func:`mlcycle.core.load_config`).
    """

    def __init__(self, root: Path, config: Config | None = None) -> None:
        if config is None:
            from mlcycle.core import Config

            config = Config()
        self.root = root.resolve()
        self.config = config
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.objects = ObjectStore(self.config.objects_url or str(self.state_dir / "objects"))
        #: Objects upper layers keep per workspace (e.g. the tracking store and its writer).
        self.shared: dict[str, Any] = {}

    @cached_property
    def db(self) -> Database:
        """The metadata database, opened (and migrated) on first use.

        Lazy so that commands which only hash files or read the object
        store (`data status`, a no-op `run`, `data add`) never pay for
        SQLAlchemy. Every session first applies the dataset versions that
        `data add` left in the pending journal (see :mod:`mlcycle.store._journal`).
        """
        from mlcycle.store._db import Database

        url = self.config.db_url or f"sqlite:///{self.state_dir / 'mlcycle.db'}"
        return Database(url, before_session=self._apply_pending)

    def _apply_pending(self, db: Database) -> None:
        from mlcycle.store._journal import apply_pending

        apply_pending(self.state_dir, db)

    @property
    def state_dir(self) -> Path:
        """The hidden `.mlcycle/` folder."""
        return self.root / STATE_DIR

    @property
    def config_path(self) -> Path:
        """The workspace's `mlcycle.yaml`."""
        return self.root / CONFIG_FILE

    @property
    def reports_dir(self) -> Path:
        """Where reports for people are written (`reports/`)."""
        return self.root / "reports"

    def close(self) -> None:
        """Flush what upper layers buffered, then release database connections."""
        for obj in self.shared.values():
            flush = getattr(obj, "flush", None)
            if callable(flush):
                flush()
        if "db" in self.__dict__:
            self.db.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
