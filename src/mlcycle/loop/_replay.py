"""The replay loop: serve, monitor, alert, retrain, gate, promote, window by window.

It replays the rows after the training period to a real model server
process over HTTP, joins the true labels to the inference log after each
window, compares the window with the production model's reference data
(drift) and scores the live predictions (performance), and acts on the
policy in `config.loop`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from mlcycle.core import Config
from mlcycle.data import DatasetVersion
from mlcycle.loop._client import ReplayClient
from mlcycle.loop._state import Production, retrain_rows, wait_for_version
from mlcycle.models import score
from mlcycle.monitoring import Alert, detect_drift, prediction_drift, raise_alert
from mlcycle.pipeline import (
    Trained,
    Xy,
    evaluate,
    features_and_target,
    primary_metric,
    replay_windows,
    split_training_period,
    train_candidate,
    train_initial_model,
)
from mlcycle.registry import gate, promote
from mlcycle.serving import ServerProcess, log_labels, read_inference_log, start_server_process
from mlcycle.store import Workspace


@dataclass(frozen=True)
class WindowOutcome:
    """What happened in one replayed window.

    `live_metric` is the primary metric of the predictions the server made
    (the model in production); `baseline_metric` that of the first model
    on the same rows; `version` the version that served the window.
    """

    window: str
    rows: int
    drift_share: float
    drifted_features: tuple[str, ...]
    prediction_drift_p: float
    live_metric: float
    baseline_metric: float
    version: int
    action: str
    live_metrics: dict[str, float] = field(default_factory=dict)
    psi: dict[str, float] = field(default_factory=dict)
    gate: dict[str, Any] | None = None

    def to_row(self) -> dict[str, Any]:
        """The table row: window, rows, drift share, live and baseline metric, version, action."""
        return {
            "window": self.window,
            "rows": self.rows,
            "drift_share": self.drift_share,
            "live_metric": self.live_metric,
            "baseline_metric": self.baseline_metric,
            "version": self.version,
            "action": self.action,
        }


class Observer(Protocol):
    """Receives progress from the loop (the CLI draws it; tests may ignore it)."""

    def stage(self, message: str) -> None:
        """A new stage starts."""

    def trial(self, done: int, total: int, family: str, value: float) -> None:
        """An AutoML trial finished."""

    def window(self, outcome: WindowOutcome) -> None:
        """A window finished."""


class SilentObserver:
    """An observer that ignores everything."""

    def stage(self, message: str) -> None:
        """Ignore."""

    def trial(self, done: int, total: int, family: str, value: float) -> None:
        """Ignore."""

    def window(self, outcome: WindowOutcome) -> None:
        """Ignore."""


@dataclass(frozen=True)
class ReplayResult:
    """The loop's outcome: one :class:`WindowOutcome` per window and request counts."""

    metric: str
    windows: tuple[WindowOutcome, ...]
    requests: int
    failed_requests: int
    initial_version: int

    @property
    def retrains(self) -> int:
        """How many candidates were trained."""
        return sum(1 for w in self.windows if w.gate is not None)

    @property
    def promotions(self) -> int:
        """How many candidates passed the gate and went to production."""
        return sum(1 for w in self.windows if w.gate is not None and w.gate["passed"])


class _Loop:
    def __init__(
        self,
        ws: Workspace,
        config: Config,
        dataset: DatasetVersion,
        prod: Production,
        baseline: Any,
    ) -> None:
        self.ws, self.config, self.dataset = ws, config, dataset
        self.prod, self.baseline = prod, baseline
        self.data = config.require_data()
        self.metric = primary_metric(config)
        self.history: list[pd.DataFrame] = []

    def _live(
        self, ids: Sequence[str], window: pd.DataFrame
    ) -> tuple[pd.DataFrame, dict[str, float]]:
        log_labels(self.ws, ids, window[self.data.target].tolist())
        logged = read_inference_log(self.ws, ids)
        labeled = logged[logged["label"].notna()]
        proba = labeled["proba"].tolist() if self.data.task == "classification" else None
        classes = self.prod.classes
        return logged, score(
            self.data.task, labeled["label"], labeled["prediction"], proba, classes
        )

    def _drift(self, logged: pd.DataFrame) -> tuple[Any, Any]:
        current = logged[list(self.data.features)]
        drift = detect_drift(
            self.prod.reference,
            current,
            numeric=self.data.numeric,
            categorical=self.data.categorical,
            config=self.config.drift,
        )
        categorical = self.data.task == "classification"
        pdrift = prediction_drift(
            self.prod.reference_predictions,
            logged["prediction"].to_numpy(),
            categorical=categorical,
            config=self.config.drift,
        )
        return drift, pdrift

    def _trigger(self, drifted: bool, live: float) -> str:
        reasons = []
        if drifted and self.config.loop.retrain_on_drift:
            reasons.append("data drift")
        decay, reference = self.config.loop.decay, self.prod.reference_metric
        if live > decay * reference:
            reasons.append(f"{self.metric} {live:.4g} > {decay:g} x {reference:.4g}")
        return " and ".join(reasons)

    def _retrain(self, label: str, window_xy: Xy, reason: str) -> tuple[str, dict[str, Any]]:
        rows = retrain_rows(self.history[:-1], self.data, self.config.loop.retrain_days)
        train = features_and_target(rows, self.data)
        cand = train_candidate(
            self.ws,
            self.config,
            train,
            self.prod.family,
            self.prod.params,
            datasets=[self.dataset],
            window=label,
            evaluate_on=window_xy,
        )
        decision = gate(
            self.metric,
            cand.version.metrics[f"gate_{self.metric}"],
            evaluate(self.prod.estimator, window_xy, self.config)[self.metric],
            self.config.loop.margin,
        )
        evidence = {"window": label, "trigger": reason, "candidate_run": cand.version.run_id}
        v = cand.version.version
        if promote(
            self.ws, self.config.model_name, v, decision, actor="mlcycle-loop", evidence=evidence
        ):
            self.prod = self.prod.replaced(cand, train, decision.candidate)
            return f"v{v} promoted, {decision.improvement:+.1%}", decision.to_dict()
        return f"v{v} rejected, {decision.improvement:+.1%}", decision.to_dict()

    def step(self, client: ReplayClient, label: str, window: pd.DataFrame) -> WindowOutcome:
        serving_version = self.prod.version
        ids, _ = client.predict(window.drop(columns=[self.data.target]))
        self.history.append(window)
        logged, live = self._live(ids, window)
        drift, pdrift = self._drift(logged)
        window_xy = features_and_target(window, self.data)
        baseline = evaluate(self.baseline, window_xy, self.config)[self.metric]
        reason = self._trigger(drift.drifted, live[self.metric])
        action, decision = "-", None
        if reason:
            alert = Alert(
                self.config.model_name,
                "retrain",
                f"window {label}: {reason}",
                {"window": label, "drift_share": drift.share, "live": live},
            )
            raise_alert(self.ws, alert, webhook_url=self.config.alerts.webhook_url)
            action, decision = self._retrain(label, window_xy, reason)
            wait_for_version(client, self.config.model_name, self.prod.version)
        return WindowOutcome(
            label,
            len(window),
            drift.share,
            tuple(drift.drifted_features),
            pdrift.p_value,
            live[self.metric],
            baseline,
            serving_version,
            action,
            live,
            {f.feature: f.psi for f in drift.features},
            decision,
        )


def run_replay(
    ws: Workspace,
    config: Config,
    frame: pd.DataFrame,
    dataset: DatasetVersion,
    *,
    observer: Observer | None = None,
    max_windows: int | None = None,
    trained: Trained | None = None,
) -> ReplayResult:
    """Run the whole loop on `frame` (all rows of `dataset`) and return what happened.

    Trains the first model with AutoML on the training period (unless
    `trained` is given, e.g. by :func:`mlcycle.pipeline.run_training`),
    registers it as `production`, starts the model server as a child
    process, then replays each later window over HTTP and acts on the policy.

    Args:
        max_windows: replay only the first N windows (None: all).
        trained: the production model already trained on the training period.

    Raises:
        DataError, ConfigError: for unusable data or config.
        ServingError: if the server fails to start or a request fails.
    """
    obs = observer or SilentObserver()
    train_frame, replay_frame = split_training_period(frame, config)
    if trained is None:
        obs.stage(f"AutoML on {len(train_frame):,} rows ({config.automl.trials} trials)")
        trained = train_initial_model(ws, config, train_frame, dataset, on_trial=obs.trial)
    train_xy = features_and_target(train_frame, config.require_data())
    loop_metric = primary_metric(config)
    loop = _Loop(
        ws, config, dataset, Production.initial(trained, train_xy, loop_metric), trained.model
    )
    loop.history.append(train_frame)
    windows = replay_windows(replay_frame, config)[:max_windows]
    obs.stage(f"Serving v{trained.version.version}; replaying {len(windows)} windows over HTTP")
    server: ServerProcess = start_server_process(ws, f"{config.model_name}@production")
    client = ReplayClient(server.url, config.loop.batch_rows)
    outcomes = []
    try:
        for label, window in windows:
            outcomes.append(loop.step(client, label, window))
            obs.window(outcomes[-1])
    finally:
        client.close()
        server.stop()
    return ReplayResult(
        loop.metric, tuple(outcomes), client.requests, client.failed, trained.version.version
    )
