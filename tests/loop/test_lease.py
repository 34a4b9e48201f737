"""Leases on SQLite and PostgreSQL: one owner at a time, renewals, expiry, release."""

from __future__ import annotations

from mlcycle.loop import acquire_lease, lease_holder, release_lease
from mlcycle.store import Workspace


def test_one_owner_at_a_time_until_expiry(any_workspace: Workspace) -> None:
    ws = any_workspace
    assert acquire_lease(ws, "m", "a", now=100.0, seconds=10.0)
    assert not acquire_lease(ws, "m", "b", now=105.0, seconds=10.0)
    assert acquire_lease(ws, "m", "a", now=108.0, seconds=10.0)  # renewal: until 118
    assert not acquire_lease(ws, "m", "b", now=117.0, seconds=10.0)
    assert lease_holder(ws, "m", 117.0) == "a"
    assert acquire_lease(ws, "m", "b", now=119.0, seconds=10.0)  # a's lease expired
    assert not acquire_lease(ws, "m", "a", now=120.0, seconds=10.0)
    assert acquire_lease(ws, "other", "a", now=120.0, seconds=10.0)  # leases are per model


def test_release_frees_the_model(any_workspace: Workspace) -> None:
    ws = any_workspace
    assert acquire_lease(ws, "m", "a", now=0.0, seconds=60.0)
    release_lease(ws, "m", "b")  # not the owner: no effect
    assert lease_holder(ws, "m", 1.0) == "a"
    release_lease(ws, "m", "a")
    assert lease_holder(ws, "m", 1.0) is None
    assert acquire_lease(ws, "m", "b", now=1.0, seconds=60.0)
