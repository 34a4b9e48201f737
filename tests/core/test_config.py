"""mlcycle.yaml parsing, environment overrides and the YAML round trip."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlcycle.core import (
    CONFIG_FILE,
    Config,
    ConfigError,
    InputError,
    dump_config,
    load_config,
    parse_config,
)


def test_typo_key_names_its_path() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"loop": {"margn": 0.05}})
    message = str(info.value)
    assert "'loop.margn'" in message
    assert message.startswith(f"{CONFIG_FILE}: ")


def test_unknown_top_level_key_is_named() -> None:
    with pytest.raises(ConfigError, match="'experment'"):
        parse_config({"experment": "x"})


def test_out_of_range_value_names_nested_key_and_source() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"automl": {"trials": 0}}, source="other.yaml")
    assert str(info.value).startswith("other.yaml: key 'automl.trials'")


def test_config_error_is_an_input_error() -> None:
    with pytest.raises(InputError):
        parse_config({"drift": {"share": 1.5}})


def test_target_listed_as_feature_is_rejected(make_bike_config: Callable[..., Config]) -> None:
    data = {**make_bike_config().require_data().model_dump(), "numeric": ["hr", "cnt"]}
    with pytest.raises(ConfigError, match="'cnt' is also listed as a feature"):
        parse_config({"data": data})


def test_parsed_config_has_values_and_features(make_bike_config: Callable[..., Config]) -> None:
    cfg = make_bike_config()
    assert cfg.automl.trials == 2
    assert cfg.loop.margin == 0.02  # default kept
    data = cfg.require_data()
    assert data.target == "cnt"
    assert data.features[:5] == ("hr", "temp", "atemp", "hum", "windspeed")
    assert len(data.features) == 12


def test_require_data_without_data_section() -> None:
    with pytest.raises(ConfigError, match="no 'data' section"):
        Config().require_data()


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / CONFIG_FILE).write_text(text, encoding="utf-8")
    return tmp_path


def test_load_config_missing_file_gives_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path, env={}) == Config()


def test_load_config_reads_file(tmp_path: Path) -> None:
    _write(tmp_path, "model_name: m1\nloop:\n  margin: 0.1\n")
    cfg = load_config(tmp_path, env={})
    assert cfg.model_name == "m1"
    assert cfg.loop.margin == 0.1


def test_env_overrides_file_db_url(tmp_path: Path) -> None:
    _write(tmp_path, "db_url: sqlite:///from-file.db\n")
    assert load_config(tmp_path, env={}).db_url == "sqlite:///from-file.db"
    cfg = load_config(
        tmp_path,
        env={"MLCYCLE_DB_URL": "sqlite:///from-env.db", "MLCYCLE_OBJECTS_URL": "/tmp/o"},
    )
    assert cfg.db_url == "sqlite:///from-env.db"
    assert cfg.objects_url == "/tmp/o"


def test_empty_env_value_does_not_override(tmp_path: Path) -> None:
    _write(tmp_path, "db_url: sqlite:///from-file.db\n")
    assert load_config(tmp_path, env={"MLCYCLE_DB_URL": ""}).db_url == "sqlite:///from-file.db"


def test_load_config_reads_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLCYCLE_DB_URL", "sqlite:///process-env.db")
    assert load_config(tmp_path).db_url == "sqlite:///process-env.db"


def test_webhook_env_keeps_other_alert_keys(tmp_path: Path) -> None:
    _write(tmp_path, "alerts:\n  webhook_url: http://file\n")
    cfg = load_config(tmp_path, env={"MLCYCLE_WEBHOOK_URL": "http://env"})
    assert cfg.alerts.webhook_url == "http://env"


def test_webhook_env_with_empty_alerts_section(tmp_path: Path) -> None:
    _write(tmp_path, "alerts:\n")  # YAML null
    cfg = load_config(tmp_path, env={"MLCYCLE_WEBHOOK_URL": "http://env"})
    assert cfg.alerts.webhook_url == "http://env"


def test_webhook_env_with_non_mapping_alerts_is_config_error(tmp_path: Path) -> None:
    _write(tmp_path, "alerts: loud\n")
    with pytest.raises(ConfigError, match="'alerts'"):
        load_config(tmp_path, env={"MLCYCLE_WEBHOOK_URL": "http://env"})


def test_typo_in_file_names_file_and_key(tmp_path: Path) -> None:
    _write(tmp_path, "loop:\n  margn: 0.05\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, env={})
    assert str(tmp_path / CONFIG_FILE) in str(info.value)
    assert "'loop.margn'" in str(info.value)


def test_invalid_yaml_is_config_error(tmp_path: Path) -> None:
    _write(tmp_path, "loop: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path, env={})


def test_yaml_that_is_not_a_mapping_is_config_error(tmp_path: Path) -> None:
    _write(tmp_path, "- a\n- b\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(tmp_path, env={})


def test_empty_yaml_file_gives_defaults(tmp_path: Path) -> None:
    _write(tmp_path, "")
    assert load_config(tmp_path, env={}) == Config()


def test_dump_config_round_trips_bike_config(make_bike_config: Callable[..., Config]) -> None:
    cfg = make_bike_config(db_url="sqlite:///x.db", automl={"trials": 3, "families": ["hgb"]})
    text = dump_config(cfg)
    assert parse_config(yaml.safe_load(text)) == cfg


def test_dump_config_leaves_out_defaults() -> None:
    assert yaml.safe_load(dump_config(Config())) == {}
    dumped = yaml.safe_load(dump_config(parse_config({"loop": {"margin": 0.1}})))
    assert dumped == {"loop": {"margin": 0.1}}


def test_dump_then_load_from_file(tmp_path: Path, make_bike_config: Callable[..., Config]) -> None:
    cfg = make_bike_config(drift={"psi_threshold": None, "features": ["temp"]})
    _write(tmp_path, dump_config(cfg))
    assert load_config(tmp_path, env={}) == cfg


@settings(max_examples=60, derandomize=True, deadline=None)
@given(
    trials=st.integers(min_value=1, max_value=10_000),
    margin=st.floats(min_value=0.0, max_value=0.999, allow_nan=False),
    p_value=st.floats(min_value=1e-6, max_value=0.999, allow_nan=False),
    families=st.lists(st.sampled_from(["linear", "hgb"]), min_size=1, max_size=2, unique=True),
    name=st.text(min_size=1, max_size=20),
)
def test_dump_parse_round_trip_property(
    trials: int, margin: float, p_value: float, families: list[str], name: str
) -> None:
    cfg = parse_config(
        {
            "model_name": name,
            "automl": {"trials": trials, "families": families},
            "loop": {"margin": margin},
            "drift": {"p_value": p_value},
        }
    )
    assert parse_config(yaml.safe_load(dump_config(cfg))) == cfg
