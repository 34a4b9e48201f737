"""Leases: at most one loop controller acts on a model at a time.

A lease is a row of `loop_leases` (model, owner, expiry in epoch seconds).
It is taken or renewed by a compare-and-set: one `UPDATE ... WHERE owner =
me OR expires_at < now` (or an `INSERT` when there is no row yet, whose
primary key lets only one of two racing controllers win). Both are single
statements, atomic on SQLite and PostgreSQL alike. Times are wall-clock
seconds, passed in so tests can move them.
"""

from __future__ import annotations

import sqlalchemy.exc
from sqlalchemy import delete, update

from mlcycle.store import Workspace
from mlcycle.store.schema import LoopLeaseRow


def acquire_lease(ws: Workspace, model: str, owner: str, now: float, seconds: float) -> bool:
    """Take or renew the lease on `model` for `seconds` from `now`; True if `owner` holds it.

    Fails (False) while another owner's lease has not expired.
    """
    claim = (
        update(LoopLeaseRow)
        .where(LoopLeaseRow.model_name == model)
        .where((LoopLeaseRow.owner == owner) | (LoopLeaseRow.expires_at < now))
        .values(owner=owner, acquired_at=now, expires_at=now + seconds)
    )
    with ws.db.session() as s:
        if s.execute(claim).rowcount == 1:  # type: ignore[attr-defined]
            return True
        if s.get(LoopLeaseRow, model) is not None:
            return False
    try:
        with ws.db.session() as s:
            s.add(
                LoopLeaseRow(
                    model_name=model, owner=owner, acquired_at=now, expires_at=now + seconds
                )
            )
    except sqlalchemy.exc.IntegrityError:  # another controller inserted first
        return False
    return True


def release_lease(ws: Workspace, model: str, owner: str) -> None:
    """Give up the lease on `model` if `owner` holds it (at a clean shutdown)."""
    with ws.db.session() as s:
        s.execute(
            delete(LoopLeaseRow)
            .where(LoopLeaseRow.model_name == model)
            .where(LoopLeaseRow.owner == owner)
        )


def lease_holder(ws: Workspace, model: str, now: float) -> str | None:
    """The owner of the unexpired lease on `model`, or None."""
    with ws.db.session() as s:
        row = s.get(LoopLeaseRow, model)
        return row.owner if row is not None and row.expires_at >= now else None
