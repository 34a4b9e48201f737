"""The workspace configuration, `mlcycle.yaml`, as frozen pydantic models.

Precedence (only entry points such as the CLI call :func:`load_config`):
explicit arguments > `MLCYCLE_*` environment variables > the workspace's
`mlcycle.yaml` > defaults. Unknown keys are errors that name the key path,
so a typo in a policy never goes unnoticed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlcycle.core._config_deploy import DeploymentConfig
from mlcycle.core._config_policy import PolicyConfig, suggest_key
from mlcycle.core._errors import ConfigError
from mlcycle.core._paths import CONFIG_FILE

Task = Literal["regression", "classification"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ColumnExpectation(_Frozen):
    """What one column of the data must satisfy (checked with pandera).

    `dtype`: `int`, `float`, `str`, `bool` or `datetime` (any width);
    `minimum`/`maximum`: inclusive bounds; `allowed`: the only values
    permitted; `unique`: no value repeats; `nullable`: missing values allowed.
    """

    dtype: Literal["int", "float", "str", "bool", "datetime"] | None = None
    nullable: bool = True
    minimum: float | None = None
    maximum: float | None = None
    allowed: tuple[str | int | float | bool, ...] | None = None
    unique: bool = False


class DataConfig(_Frozen):
    """Where the data is and what role each column plays.

    `path` is a CSV or Parquet file, relative to the workspace folder.
    `numeric` and `categorical` are the model's input features.
    `expectations` maps column names to what their values must satisfy.
    """

    path: str
    target: str
    task: Task = "regression"
    time_column: str | None = None
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    expectations: dict[str, ColumnExpectation] = Field(default_factory=dict)

    @property
    def features(self) -> tuple[str, ...]:
        """All input features, numeric first."""
        return self.numeric + self.categorical


class SplitConfig(_Frozen):
    """How the data splits into the training period and replayed windows.

    With a time column, rows before `train_end` (ISO date) train the first
    model, or the first `train_fraction` of rows in time order when
    `train_end` is unset; the rest is replayed in windows of the pandas
    frequency `window` (e.g. `MS`: calendar months). Without a time
    column the rest is cut into `n_windows` equal windows in file order.
    """

    train_end: str | None = None
    train_fraction: float = Field(0.5, gt=0.0, lt=1.0)
    window: str = "MS"
    n_windows: int = Field(12, ge=1)


class AutoMLConfig(_Frozen):
    """The AutoML search (Optuna TPE) over scikit-learn model families.

    `families`: any of `linear` (ridge or logistic regression) and `hgb`
    (histogram gradient boosting). Trials fit on the first part of the
    training period and are scored on the next `validation_fraction`; the
    best is refit and scored on the last `holdout_fraction` (held out).
    """

    trials: int = Field(12, ge=1)
    families: tuple[Literal["linear", "hgb"], ...] = ("linear", "hgb")
    seed: int = 0
    validation_fraction: float = Field(0.2, gt=0.0, lt=0.5)
    holdout_fraction: float = Field(0.15, gt=0.0, lt=0.5)


class DriftThresholds(_Frozen):
    """Per-test drift thresholds (Evidently 0.7's defaults).

    p-value tests (`ks`, `chi2`, `z`) drift below their level, None meaning
    `DriftConfig.p_value`; distance tests (`wasserstein` normalized by the
    reference std, `jensenshannon`, `psi`) drift at or above theirs.
    """

    ks: float | None = Field(None, gt=0.0, lt=1.0)
    chi2: float | None = Field(None, gt=0.0, lt=1.0)
    z: float | None = Field(None, gt=0.0, lt=1.0)
    wasserstein: float = Field(0.1, gt=0.0)
    jensenshannon: float = Field(0.1, gt=0.0)
    psi: float = Field(0.1, gt=0.0)


class DriftConfig(_Frozen):
    """Per-feature drift tests and the dataset drift rule.

    `numeric_test` / `categorical_test` pick each feature's test; "auto"
    chooses as Evidently 0.7 does, by type and reference size (n <= 1000:
    KS for numbers, chi-squared or the z-test for two categories; larger:
    normalized Wasserstein for numbers, Jensen-Shannon for categories;
    numbers with at most 5 distinct values count as categories).
    `thresholds` holds each test's threshold. A p-value test also needs,
    when `psi_threshold` is set, PSI (on `psi_bins` reference-quantile
    bins) of at least that: large samples make tiny, harmless shifts
    significant, and PSI measures the size of the shift. The dataset
    drifts when the share of drifted features reaches `share`.
    """

    p_value: float = Field(0.05, gt=0.0, lt=1.0)
    psi_threshold: float | None = Field(0.2, ge=0.0)
    psi_bins: int = Field(10, ge=2)
    share: float = Field(0.5, gt=0.0, le=1.0)
    features: tuple[str, ...] | None = None
    numeric_test: Literal["auto", "ks", "wasserstein", "psi", "jensenshannon"] = "auto"
    categorical_test: Literal["auto", "chi2", "z", "psi", "jensenshannon"] = "auto"
    thresholds: DriftThresholds = DriftThresholds()


class LoopConfig(_Frozen):
    """What the loop does after each window (the policy).

    Retrain when the dataset drifts (if `retrain_on_drift`) or the live
    primary metric is worse than `decay` times the production model's
    reference metric. The candidate trains on the labeled rows before the
    latest window (the last `retrain_days` days of them when set); the
    gate then scores candidate and production on the latest window, which
    neither has seen, and promotes when the candidate is better by at
    least `margin` (relative). Requests carry `batch_rows` rows each.
    """

    batch_rows: int = Field(24, ge=1)
    decay: float = Field(1.2, ge=1.0)
    retrain_on_drift: bool = True
    retrain_days: int | None = Field(None, ge=1)
    margin: float = Field(0.02, ge=0.0, lt=1.0)
    policy: PolicyConfig | None = None


class EmailConfig(_Frozen):
    """An SMTP server that mails alerts (`alerts.email`).

    `security`: `starttls` (plain connection upgraded with STARTTLS, RFC
    3207; port 587), `ssl` (implicit TLS, RFC 8314; port 465) or `none`
    (local relays only). `password_env` names the environment variable
    holding the password for `username`: the password itself is never in
    `mlcycle.yaml`, the database or the logs.
    """

    host: str
    port: int = Field(587, ge=1, le=65535)
    sender: str
    to: tuple[str, ...] = Field(min_length=1)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None
    timeout: float = Field(10.0, gt=0.0)


class AlertsConfig(_Frozen):
    """Where alerts go and how often (see docs/reports-and-alerts.md).

    Channels: the log (`log`), a Slack-compatible webhook (`webhook_url`),
    e-mail (`email`) and Prometheus gauges (`prometheus`). Alerts of one
    incident (same model, kind and drifted features) within
    `cooldown_seconds` of the first are not sent again. `attempts`: tries
    per webhook or e-mail delivery, with exponential backoff in between.
    """

    log: bool = True
    webhook_url: str | None = None
    email: EmailConfig | None = None
    prometheus: bool = True
    cooldown_seconds: float = Field(3600.0, ge=0.0)
    attempts: int = Field(3, ge=1, le=10)


class ServingConfig(_Frozen):
    """The model server: address, alias polling, workers, micro-batching, limits, log flushing.

    `max_batch_size` (rows) and `max_latency_ms` bound one merged model call
    (1 turns batching off); `max_queue` is the number of requests that may
    wait for the model before new ones get 503 with `Retry-After`;
    `request_timeout_seconds` answers 504 past it; `max_body_bytes` answers
    413 past it; `log_flush_seconds` is how long an acknowledged prediction
    may sit in memory before it is in a Parquet file (0 = before the reply).
    `deployments` maps environment names (`staging`, `production` ...) to
    what `mlcycle serve --env NAME` serves (see `DeploymentConfig`).
    """

    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535)
    poll_seconds: float = Field(0.5, gt=0.0)
    workers: int = Field(1, ge=1, le=64)
    max_batch_size: int = Field(256, ge=1)
    max_latency_ms: float = Field(2.0, ge=0.0)
    max_queue: int = Field(512, ge=1)
    request_timeout_seconds: float = Field(30.0, gt=0.0)
    max_body_bytes: int = Field(32 << 20, ge=1024)
    log_flush_seconds: float = Field(1.0, ge=0.0)
    deployments: dict[str, DeploymentConfig] = Field(default_factory=dict)


LinkKind = Literal["reflink", "hardlink", "symlink", "copy"]


class CacheConfig(_Frozen):
    """How tracked data files are placed back in the workspace from the cache.

    `link` is tried in order per file: `reflink` (copy-on-write clone, where
    the file system supports it), `hardlink`, `symlink`, `copy`. With hard
    and symbolic links the workspace file is the cached object itself, made
    read-only; but root (or a tool that chmods) can still edit it in place
    and corrupt the cache, so the default is DVC's: `reflink`, then `copy`.
    Add `hardlink` for large data you only read (adding is then ~2x faster).
    """

    link: tuple[LinkKind, ...] = Field(("reflink", "copy"), min_length=1)


class StageConfig(_Frozen):
    """A shell stage of the pipeline (the `stages` section, as in `dvc.yaml`).

    `cmd` runs in the workspace folder with `${name}` replaced by each of
    `params`; `deps` and `outs` are paths relative to the workspace;
    `metrics` are JSON or YAML files of `name: number` the stage writes;
    `after` names steps that must run first without a file between them.
    """

    cmd: str
    deps: tuple[str, ...] = ()
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    outs: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    cpus: float = Field(1.0, ge=0.0)
    gpus: float = Field(0.0, ge=0.0)
    memory: int | None = Field(None, ge=0)


class PipelineConfig(_Frozen):
    """Where Python steps are defined and how steps execute.

    `module`: a Python file (relative to the workspace) whose `@mlcycle.step`
    functions join the `stages`; `executor`: `local` (independent steps in
    parallel processes, at most `max_workers`) or `ray` (`address` of the
    cluster; `auto` finds a running one).
    """

    module: str | None = None
    executor: Literal["local", "ray"] = "local"
    address: str | None = None
    max_workers: int | None = Field(None, ge=1)


class TrackingConfig(_Frozen):
    """How runs are written.

    `flush_interval` (seconds): metrics, params and tags are buffered and
    written in batches by a background thread at least this often, at run
    end and at exit; a crash loses at most this much. `system_metrics`:
    sample CPU, memory and GPU use of every run every
    `system_metrics_interval` seconds (as MLflow's `system/...` metrics).
    """

    flush_interval: float = Field(1.0, gt=0.0, le=3600.0)
    system_metrics: bool = False
    system_metrics_interval: float = Field(10.0, gt=0.0)


class Config(_Frozen):
    """The whole of `mlcycle.yaml`.

    `db_url` is any SQLAlchemy URL (default: SQLite file in `.mlcycle/`);
    `objects_url` any fsspec URL (default: `.mlcycle/objects`).
    `remotes` maps remote names to fsspec URLs for `mlcycle data push/pull`;
    `default_remote` names the one used when none is given.
    """

    model_name: str = "model"
    experiment: str = "default"
    db_url: str | None = None
    objects_url: str | None = None
    data: DataConfig | None = None
    split: SplitConfig = SplitConfig()
    automl: AutoMLConfig = AutoMLConfig()
    drift: DriftConfig = DriftConfig()
    loop: LoopConfig = LoopConfig()
    alerts: AlertsConfig = AlertsConfig()
    serving: ServingConfig = ServingConfig()
    cache: CacheConfig = CacheConfig()
    remotes: dict[str, str] = Field(default_factory=dict)
    default_remote: str | None = None
    stages: dict[str, StageConfig] = Field(default_factory=dict)
    pipeline: PipelineConfig = PipelineConfig()
    tracking: TrackingConfig = TrackingConfig()

    def require_data(self) -> DataConfig:
        """Return the `data` section.

        Raises:
            ConfigError: if `mlcycle.yaml` has none.
        """
        if self.data is None:
            raise ConfigError(
                "mlcycle.yaml has no 'data' section: run "
                "'mlcycle init --data FILE.csv --target COLUMN' first"
            )
        return self.data

    @model_validator(mode="after")
    def _features_exist(self) -> Config:
        if self.data is not None and self.data.target in self.data.features:
            raise ValueError(f"target {self.data.target!r} is also listed as a feature")
        if self.default_remote is not None and self.default_remote not in self.remotes:
            raise ValueError(f"default_remote {self.default_remote!r} is not in 'remotes'")
        return self


def _format_validation_error(source: str, err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    close = suggest_key(Config, first["loc"]) if first["type"] == "extra_forbidden" else None
    hint = f" (did you mean '{close}'?)" if close else ""
    return f"{source}: key '{where}': {first['msg']}{hint}"


def parse_config(raw: Mapping[str, Any], source: str = CONFIG_FILE) -> Config:
    """Validate a config mapping.

    Raises:
        ConfigError: naming the first offending key path, e.g.
            "mlcycle.yaml: key 'loop.margn': Extra inputs are not permitted".
    """
    try:
        return Config.model_validate(dict(raw))
    except ValidationError as err:
        raise ConfigError(_format_validation_error(source, err)) from None


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a YAML config file into a dict (empty dict if it is missing).

    Raises:
        ConfigError: if the file is not valid YAML or not a mapping.
    """
    if not path.exists():
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping of keys to values")
    return raw


def load_config(workspace: Path, env: Mapping[str, str] | None = None) -> Config:
    """Read `mlcycle.yaml` in `workspace` and apply `MLCYCLE_*` overrides.

    Environment variables read: `MLCYCLE_DB_URL`, `MLCYCLE_OBJECTS_URL`,
    `MLCYCLE_WEBHOOK_URL`.

    Raises:
        ConfigError: if the file or an override is invalid.
    """
    env = os.environ if env is None else env
    path = workspace / CONFIG_FILE
    raw = read_config_file(path)
    for var, key in (("MLCYCLE_DB_URL", "db_url"), ("MLCYCLE_OBJECTS_URL", "objects_url")):
        if env.get(var):
            raw[key] = env[var]
    if env.get("MLCYCLE_WEBHOOK_URL"):
        alerts = raw.get("alerts") or {}  # `alerts:` with no value is YAML null
        if isinstance(alerts, Mapping):  # otherwise parse_config names the bad key
            raw["alerts"] = {**alerts, "webhook_url": env["MLCYCLE_WEBHOOK_URL"]}
    return parse_config(raw, source=str(path))


def dump_config(config: Config) -> str:
    """Render `config` as YAML, leaving out defaults except in the `data` section,
    which is written whole so a reader sees every column's role and the task.
    """
    data = config.model_dump(mode="json", exclude_defaults=True)
    if config.data is not None:
        data["data"] = config.data.model_dump(mode="json", exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False)
