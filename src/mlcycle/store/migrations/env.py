"""Alembic environment: runs migrations on the engine mlcycle passes in."""

from __future__ import annotations

from alembic import context

from mlcycle.store._db import VERSION_TABLE
from mlcycle.store.schema import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        version_table=VERSION_TABLE,
    )
    context.run_migrations()
