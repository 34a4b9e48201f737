"""The registry: versions, aliases, resolution, the audit log, the gate and promotion."""

from __future__ import annotations

import math

import pytest

from mlcycle.core import InputError, ModelNotFound
from mlcycle.registry import (
    alias_version,
    audit_log,
    default_actor,
    gate,
    get_model_version,
    list_model_versions,
    list_models,
    promote,
    register_model_version,
    resolve,
    set_alias,
)
from mlcycle.store import Workspace


def _register_two(ws: Workspace) -> tuple[str, str]:
    first, second = ws.objects.put_bytes(b"package one"), ws.objects.put_bytes(b"package two")
    v1 = register_model_version(ws, "bikes", first, run_id="r1", metrics={"mae": 10.0})
    v2 = register_model_version(ws, "bikes", second, run_id="r2", metrics={"mae": 8.0})
    assert (v1.version, v2.version) == (1, 2)
    return first, second


def test_register_versions(any_workspace: Workspace) -> None:
    first, second = _register_two(any_workspace)
    versions = list_model_versions(any_workspace, "bikes")
    assert [(v.version, v.package_id, v.run_id) for v in versions] == [
        (2, second, "r2"),
        (1, first, "r1"),
    ]
    assert versions[1].metrics == {"mae": 10.0}
    other = register_model_version(any_workspace, "other", first)
    assert other.version == 1  # numbering is per model
    assert list_model_versions(any_workspace, "missing") == []
    assert list_models(any_workspace) == [
        {"name": "bikes", "latest_version": 2, "aliases": {}},
        {"name": "other", "latest_version": 1, "aliases": {}},
    ]
    registrations = [e for e in audit_log(any_workspace, "bikes") if e.action == "register"]
    assert [e.to_version for e in registrations] == [2, 1]


def test_set_alias_writes_audit_event(any_workspace: Workspace) -> None:
    ws = any_workspace
    _register_two(ws)
    first = set_alias(ws, "bikes", "production", 1, reason="initial", actor="alice")
    assert (first.from_version, first.to_version, first.actor) == (None, 1, "alice")
    event = set_alias(
        ws,
        "bikes",
        "production",
        2,
        reason="better MAE",
        evidence={"mae": [10.0, 8.0]},
        actor="bob",
    )
    assert event.action == "set_alias"
    assert (event.model_name, event.alias) == ("bikes", "production")
    assert (event.from_version, event.to_version) == (1, 2)
    assert (event.actor, event.reason, event.evidence) == (
        "bob",
        "better MAE",
        {"mae": [10.0, 8.0]},
    )
    latest = audit_log(ws, "bikes")[0]
    assert latest == event
    assert set_alias(ws, "bikes", "staging", 1).actor == default_actor()
    assert alias_version(ws, "bikes", "production") == 2
    assert get_model_version(ws, "bikes", 1).aliases == ("staging",)
    assert list_models(ws)[0]["aliases"] == {"production": 2, "staging": 1}


def test_resolve_references(any_workspace: Workspace) -> None:
    ws = any_workspace
    first, second = _register_two(ws)
    set_alias(ws, "bikes", "production", 1)
    assert resolve(ws, "bikes@production").package_id == first
    assert resolve(ws, "bikes@production").aliases == ("production",)
    assert resolve(ws, "bikes@2").package_id == second
    assert resolve(ws, "bikes@1").version == 1
    assert resolve(ws, "bikes").version == 2  # the latest version


def test_unknown_model_alias_and_version(any_workspace: Workspace) -> None:
    ws = any_workspace
    _register_two(ws)
    with pytest.raises(ModelNotFound, match="Model 'nope' does not exist"):
        resolve(ws, "nope")
    with pytest.raises(ModelNotFound, match="Model 'nope' does not exist"):
        resolve(ws, "nope@production")
    with pytest.raises(ModelNotFound, match="Model 'bikes' has no alias 'champion'"):
        resolve(ws, "bikes@champion")
    with pytest.raises(ModelNotFound, match="Model 'bikes' has no version 7"):
        resolve(ws, "bikes@7")
    with pytest.raises(ModelNotFound, match="Model 'bikes' has no version 3"):
        set_alias(ws, "bikes", "production", 3)
    with pytest.raises(ModelNotFound, match="Model 'nope' has no version 1"):
        set_alias(ws, "nope", "production", 1)
    assert str(ModelNotFound("Model 'x' does not exist")) == "Model 'x' does not exist"


@pytest.mark.parametrize("alias", ["", "prod uction", "a@b", "../x", "42", "prod/1"])
def test_invalid_alias_is_refused(workspace: Workspace, alias: str) -> None:
    _register_two(workspace)
    with pytest.raises(InputError, match="must be a name of letters, digits"):
        set_alias(workspace, "bikes", alias, 1)
    assert [e.action for e in audit_log(workspace, "bikes")] == ["register", "register"]


@pytest.mark.parametrize(
    ("candidate", "production", "margin", "passed"),
    [
        (6.0, 8.0, 0.25, True),  # exactly at the margin
        (6.0001, 8.0, 0.25, False),  # just short of it
        (5.0, 8.0, 0.25, True),
        (7.9, 8.0, 0.0, True),
        (8.0, 8.0, 0.0, True),  # no margin: not worse is enough
        (8.1, 8.0, 0.0, False),
        (7.9, 8.0, 0.05, False),  # better, but not by 5 %
    ],
)
def test_gate_boundaries(candidate: float, production: float, margin: float, passed: bool) -> None:
    decision = gate("mae", candidate, production, margin)
    assert decision.passed is passed
    assert decision.improvement == pytest.approx(1 - candidate / production)
    assert decision.to_dict()["improvement"] == decision.improvement


def test_gate_with_zero_production_metric() -> None:
    assert gate("mae", 0.0, 0.0, 0.1).improvement == 0.0
    assert gate("mae", 0.0, 0.0, 0.1).passed
    assert not gate("mae", 0.1, 0.0, 0.1).passed


def test_promote_moves_alias_only_when_gate_passed(any_workspace: Workspace) -> None:
    ws = any_workspace
    _register_two(ws)
    set_alias(ws, "bikes", "production", 1)
    failed = gate("mae", 7.9, 8.0, 0.05)
    assert promote(ws, "bikes", 2, failed, actor="loop") is None
    assert alias_version(ws, "bikes", "production") == 1
    assert audit_log(ws, "bikes")[0].to_version == 1
    passed = gate("mae", 6.0, 8.0, 0.25)
    event = promote(ws, "bikes", 2, passed, actor="loop", evidence={"window": "2012-03"})
    assert event is not None
    assert alias_version(ws, "bikes", "production") == 2
    assert (event.from_version, event.to_version, event.actor) == (1, 2, "loop")
    assert event.reason == "gate passed: mae 6 vs 8 (+25.0%)"
    assert event.evidence["window"] == "2012-03"
    assert event.evidence["gate"]["passed"] is True
    assert event.evidence["gate"]["candidate"] == 6.0
    assert audit_log(ws, "bikes")[0] == event
    other = promote(ws, "bikes", 1, gate("mae", 1.0, 8.0, 0.1), alias="champion")
    assert other is not None and alias_version(ws, "bikes", "champion") == 1


def test_non_finite_version_metrics_round_trip(any_workspace: Workspace) -> None:
    version = register_model_version(
        any_workspace, "m", "a" * 64, metrics={"mae": 1.5, "r2": float("nan"), "ll": float("inf")}
    )
    stored = get_model_version(any_workspace, "m", version.version).metrics
    assert stored["mae"] == 1.5 and math.isnan(stored["r2"]) and stored["ll"] == math.inf
