"""Core: ids, hashing, errors, config and atomic writes (imports nothing above it).

The configuration names load on first use (PEP 562): pydantic costs 60 ms,
and `data status` or a no-op `run` must answer in well under 0.1 s.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlcycle.core._config import (
        AlertsConfig,
        AutoMLConfig,
        CacheConfig,
        ColumnExpectation,
        Config,
        DataConfig,
        DriftConfig,
        LinkKind,
        LoopConfig,
        PipelineConfig,
        ServingConfig,
        SplitConfig,
        StageConfig,
        Task,
        TrackingConfig,
        dump_config,
        load_config,
        parse_config,
        read_config_file,
    )
    from mlcycle.core._config_deploy import (
        DeploymentConfig,
        RollbackConfig,
        Split,
        deployment_config,
    )
    from mlcycle.core._config_policy import PolicyConfig

from mlcycle.core._atomic import atomic_write_bytes, atomic_write_text
from mlcycle.core._errors import (
    ConfigError,
    DataError,
    DatasetNotFound,
    ExpectationsFailed,
    InputError,
    IntegrityError,
    MlcycleError,
    ModelNotFound,
    NotFound,
    PipelineError,
    RemoteError,
    RunNotFound,
    ServingError,
    SignatureError,
    StepFailed,
)
from mlcycle.core._hashing import hash_bytes, hash_file, is_object_id
from mlcycle.core._ids import new_id, now
from mlcycle.core._paths import CONFIG_FILE

_CONFIG_NAMES = frozenset(
    [
        "AlertsConfig",
        "AutoMLConfig",
        "CacheConfig",
        "ColumnExpectation",
        "Config",
        "DataConfig",
        "DriftConfig",
        "LinkKind",
        "LoopConfig",
        "PipelineConfig",
        "PolicyConfig",
        "ServingConfig",
        "SplitConfig",
        "StageConfig",
        "Task",
        "TrackingConfig",
        "dump_config",
        "load_config",
        "parse_config",
        "read_config_file",
    ]
)


_DEPLOY_NAMES = frozenset(["DeploymentConfig", "RollbackConfig", "Split", "deployment_config"])


def __getattr__(name: str) -> Any:
    if name in _DEPLOY_NAMES:
        module = "mlcycle.core._config_deploy"
    elif name in _CONFIG_NAMES:
        module = "mlcycle.core._config"
    else:
        raise AttributeError(f"module 'mlcycle.core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


__all__ = [
    "CONFIG_FILE",
    "AlertsConfig",
    "AutoMLConfig",
    "CacheConfig",
    "ColumnExpectation",
    "Config",
    "ConfigError",
    "DataConfig",
    "DataError",
    "DatasetNotFound",
    "DeploymentConfig",
    "DriftConfig",
    "ExpectationsFailed",
    "InputError",
    "IntegrityError",
    "LinkKind",
    "LoopConfig",
    "MlcycleError",
    "ModelNotFound",
    "NotFound",
    "PipelineConfig",
    "PipelineError",
    "PolicyConfig",
    "RemoteError",
    "RollbackConfig",
    "RunNotFound",
    "ServingConfig",
    "ServingError",
    "SignatureError",
    "Split",
    "SplitConfig",
    "StageConfig",
    "StepFailed",
    "Task",
    "TrackingConfig",
    "atomic_write_bytes",
    "atomic_write_text",
    "deployment_config",
    "dump_config",
    "hash_bytes",
    "hash_file",
    "is_object_id",
    "load_config",
    "new_id",
    "now",
    "parse_config",
    "read_config_file",
]
