"""The exception tree: base classes, exit codes, HTTP statuses and messages."""

from __future__ import annotations

import pytest

from mlcycle.core import (
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


@pytest.mark.parametrize("cls", [InputError, ConfigError, DataError, SignatureError])
def test_input_errors_are_value_errors_with_exit_code_2(cls: type[MlcycleError]) -> None:
    err = cls("bad column 'x'")
    assert isinstance(err, ValueError)
    assert isinstance(err, MlcycleError)
    assert err.exit_code == 2
    assert err.http_status == 400
    assert str(err) == "bad column 'x'"


@pytest.mark.parametrize("cls", [NotFound, RunNotFound, ModelNotFound, DatasetNotFound])
def test_not_found_is_key_error_without_extra_quotes(cls: type[MlcycleError]) -> None:
    err = cls("Dataset version 'hour@v9' does not exist")
    assert isinstance(err, KeyError)
    assert not isinstance(err, ValueError)
    assert err.exit_code == 2
    assert err.http_status == 404
    # A plain KeyError would render as "\"Dataset version 'hour@v9' ...\"".
    assert str(err) == "Dataset version 'hour@v9' does not exist"
    assert str(KeyError("x")) == "'x'"


def test_not_found_caught_as_key_error() -> None:
    with pytest.raises(KeyError):
        raise DatasetNotFound("nope")


@pytest.mark.parametrize("cls", [MlcycleError, IntegrityError, ServingError])
def test_work_failures_exit_1(cls: type[MlcycleError]) -> None:
    err = cls("boom")
    assert err.exit_code == 1
    assert err.http_status == 500
    assert not isinstance(err, (ValueError, KeyError))


def test_error_without_message_shows_class_name() -> None:
    assert str(IntegrityError()) == "IntegrityError"
    assert str(RunNotFound()) == "RunNotFound"
