"""The mlcycle exception tree.

Every error mlcycle raises on purpose derives from :class:`MlcycleError`.
Errors caused by what the user gave (a file, a column, a name) are
:class:`InputError` and map to CLI exit code 2 and an HTTP 4xx; the rest
are failures of the work itself (exit code 1, HTTP 5xx)::

    MlcycleError                       exit 1, HTTP 500
    ├── InputError(ValueError)         exit 2, HTTP 400: bad input named in the message
    │   ├── ConfigError                    mlcycle.yaml or an option is invalid
    │   ├── DataError                      a file, a column or a value is unusable
    │   │   └── ExpectationsFailed             data breaks its declared expectations
    │   ├── PipelineError                  a cycle, a missing input, a bad step
    │   └── SignatureError                 model input does not match its signature
    ├── NotFound(KeyError)             exit 2, HTTP 404
    │   ├── RunNotFound
    │   ├── ModelNotFound                  unknown model, version or alias
    │   └── DatasetNotFound
    ├── IntegrityError                 exit 1: stored bytes do not match their hash
    ├── RemoteError                    exit 1: a data remote failed mid-transfer
    ├── StepFailed                     exit 1: a pipeline step raised or exited non-zero
    └── ServingError                   exit 1: the model server failed to start or answer
"""

from __future__ import annotations


class MlcycleError(Exception):
    """Root of every error mlcycle raises on purpose."""

    exit_code = 1
    http_status = 500

    def __str__(self) -> str:
        # KeyError quotes its message; the root shows it as written.
        return str(self.args[0]) if self.args else self.__class__.__name__


class InputError(MlcycleError, ValueError):
    """Bad input from the user; the message names the culprit."""

    exit_code = 2
    http_status = 400


class ConfigError(InputError):
    """An invalid `mlcycle.yaml`, environment variable or option."""


class DataError(InputError):
    """A data file, column or value that cannot be used."""


class ExpectationsFailed(DataError):
    """Data that breaks its declared expectations.

    Attributes:
        failures: one dict per failed check: `column`, `check`, `failure_case`
            (the offending value) and `index` (its row), as pandera reports them.
    """

    def __init__(self, message: str, failures: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.failures = failures


class PipelineError(InputError):
    """A pipeline that cannot run as declared: a cycle, a missing input, a bad step."""


class SignatureError(InputError):
    """Model input that does not match the model's signature."""


class NotFound(MlcycleError, KeyError):
    """A named entity (run, model, alias, dataset) does not exist."""

    exit_code = 2
    http_status = 404


class RunNotFound(NotFound):
    """No run has the given id."""


class ModelNotFound(NotFound):
    """No registered model, model version or alias has the given name."""


class DatasetNotFound(NotFound):
    """No dataset or dataset version has the given name."""


class IntegrityError(MlcycleError):
    """Stored bytes no longer match their content hash."""


class ServingError(MlcycleError):
    """The model server failed to start or to answer."""


class RemoteError(MlcycleError):
    """A data remote could not be reached or failed mid-transfer; rerun to resume."""


class StepFailed(MlcycleError):
    """A pipeline step raised an exception or its command exited non-zero."""
