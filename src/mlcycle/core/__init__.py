"""Core: ids, hashing, errors, config and atomic writes (imports nothing above it)."""

from __future__ import annotations

from mlcycle.core._atomic import atomic_write_bytes, atomic_write_text
from mlcycle.core._config import (
    CONFIG_FILE,
    AlertsConfig,
    AutoMLConfig,
    Config,
    DataConfig,
    DriftConfig,
    LoopConfig,
    ServingConfig,
    SplitConfig,
    Task,
    dump_config,
    load_config,
    parse_config,
)
from mlcycle.core._errors import (
    ConfigError,
    DataError,
    DatasetNotFound,
    InputError,
    IntegrityError,
    MlcycleError,
    ModelNotFound,
    NotFound,
    RunNotFound,
    ServingError,
    SignatureError,
)
from mlcycle.core._hashing import hash_bytes, hash_file, is_object_id
from mlcycle.core._ids import new_id, now

__all__ = [
    "CONFIG_FILE",
    "AlertsConfig",
    "AutoMLConfig",
    "Config",
    "ConfigError",
    "DataConfig",
    "DataError",
    "DatasetNotFound",
    "DriftConfig",
    "InputError",
    "IntegrityError",
    "LoopConfig",
    "MlcycleError",
    "ModelNotFound",
    "NotFound",
    "RunNotFound",
    "ServingConfig",
    "ServingError",
    "SignatureError",
    "SplitConfig",
    "Task",
    "atomic_write_bytes",
    "atomic_write_text",
    "dump_config",
    "hash_bytes",
    "hash_file",
    "is_object_id",
    "load_config",
    "new_id",
    "now",
    "parse_config",
]
