"""What the controller does: retrain a candidate, gate it, promote, roll back.

Each function does one idempotent step and returns the :class:`Decision`
to record; the controller persists the state change and the decision
together, so a restart redoes at most the step that was cut short.
"""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

from mlcycle.core import Config, PolicyConfig
from mlcycle.loop._durable import ACTOR, Decision
from mlcycle.loop._windows import EVENT_TIME, labeled_xy, model_metric, rows_between
from mlcycle.models import LoadedModel, fetch_package, load_package
from mlcycle.monitoring import Alert, raise_alert
from mlcycle.pipeline import Trained, Xy, train_candidate
from mlcycle.registry import gate, get_model_version, promote, set_alias
from mlcycle.store import Workspace
from mlcycle.tracking import FAILED, attach_run, search_runs


class Models:
    """Loaded model versions of one registered model, cached by version."""

    def __init__(self, ws: Workspace, name: str) -> None:
        self.ws, self.name = ws, name
        self._loaded: dict[int, LoadedModel] = {}

    def get(self, version: int) -> LoadedModel:
        """The loaded package of `version` (fetched into `.mlcycle/packages` once)."""
        if version not in self._loaded:
            record = get_model_version(self.ws, self.name, version)
            folder = fetch_package(
                self.ws.objects, record.package_id, self.ws.state_dir / "packages"
            )
            self._loaded[version] = load_package(folder)
        return self._loaded[version]


def store_reference(ws: Workspace, features: pd.DataFrame) -> str:
    """Store reference features as Parquet in the object store; return the object id."""
    buffer = io.BytesIO()
    features.reset_index(drop=True).to_parquet(buffer, index=False)
    return ws.objects.put_bytes(buffer.getvalue())


def load_reference(ws: Workspace, object_id: str) -> pd.DataFrame:
    """The reference features stored by :func:`store_reference`."""
    return pd.read_parquet(io.BytesIO(ws.objects.get_bytes(object_id)))


def training_rows(log: pd.DataFrame, start: pd.Timestamp, policy: PolicyConfig) -> pd.DataFrame:
    """Logged rows before the checked window (from `start`), within `retrain.last_weeks`."""
    weeks = policy.retrain.last_weeks
    since = start - pd.Timedelta(weeks=weeks) if weeks is not None else None
    rows = rows_between(log, since, start)
    return rows[rows["label"].notna()].sort_values(EVENT_TIME, kind="stable")


def fail_dangling_runs(ws: Workspace, run_name: str) -> list[str]:
    """Mark runs named `run_name` still RUNNING (a killed retrain) FAILED; return their ids."""
    quoted = run_name.replace("'", "''")
    runs = search_runs(ws, f"name = '{quoted}' and status = 'RUNNING'")
    for run in runs:
        attach_run(ws, run.id).end(FAILED)
    return [run.id for run in runs]


def retrain(
    ws: Workspace,
    config: Config,
    production: LoadedModel,
    train: Xy,
    gate_on: Xy,
    window: str,
) -> Trained:
    """Refit production's family and parameters on `train`; register the candidate.

    The candidate is scored on `gate_on` (logged as `gate_<metric>`).
    """
    params = dict(production.meta.params)
    family = params.pop("family", "hgb")
    return train_candidate(
        ws, config, train, family, params, datasets=[], window=window, evaluate_on=gate_on
    )


def gate_and_promote(
    ws: Workspace,
    config: Config,
    policy: PolicyConfig,
    candidate: tuple[int, float],
    production: tuple[int, LoadedModel],
    gate_on: Xy,
    evidence: dict[str, Any],
) -> tuple[bool, Decision]:
    """Gate candidate (version, metric on `gate_on`) against production on `gate_on`;
    promote when it passes, else alert a human. Returns (promoted, decision)."""
    model = policy.model or config.model_name
    metric = evidence["metric"]
    prod_metric = model_metric(production[1], gate_on.X, gate_on.y, config, metric)
    verdict = gate(metric, candidate[1], prod_metric, policy.gate.margin)
    proof = {**evidence, "gate": verdict.to_dict()}
    if promote(ws, model, candidate[0], verdict, actor=ACTOR, evidence=proof):
        reason = f"v{candidate[0]} promoted: {metric} {candidate[1]:.4g} vs {prod_metric:.4g}"
        return True, Decision("promoted", reason, proof, production[0], candidate[0])
    message = (
        f"candidate v{candidate[0]} failed the gate ({metric} {candidate[1]:.4g} vs "
        f"production {prod_metric:.4g}, margin {policy.gate.margin:.0%}); a human should look"
    )
    raise_alert(
        ws, Alert(model, "gate_failed", message, proof), webhook_url=config.alerts.webhook_url
    )
    return False, Decision("rejected", message, proof, production[0], candidate[0])


def rollback_check(
    ws: Workspace,
    config: Config,
    policy: PolicyConfig,
    promoted: tuple[int, LoadedModel],
    previous: tuple[int, LoadedModel],
    rows: pd.DataFrame,
    metric: str,
) -> tuple[bool, Decision]:
    """Score the promoted and the previous version on the window's labeled `rows`;
    roll back when the promoted one is worse by more than `rollback.worse_by`."""
    model = policy.model or config.model_name
    x, y = labeled_xy(rows, config.require_data())
    new = model_metric(promoted[1], x, y, config, metric)
    old = model_metric(previous[1], x, y, config, metric)
    evidence = {"metric": metric, "promoted": new, "previous": old, "labeled_rows": len(y)}
    if policy.rollback.enabled and new > old * (1.0 + policy.rollback.worse_by):
        reason = f"v{promoted[0]} {metric} {new:.4g} worse than v{previous[0]} {old:.4g}"
        set_alias(ws, model, "production", previous[0], reason=f"rollback: {reason}", actor=ACTOR)
        raise_alert(ws, Alert(model, "rollback", f"rolled back: {reason}", evidence))
        return True, Decision("rollback", reason, evidence, promoted[0], previous[0])
    reason = f"v{promoted[0]} kept: {metric} {new:.4g} vs v{previous[0]} {old:.4g}"
    return False, Decision("kept", reason, evidence, previous[0], promoted[0])
