"""Deployments: which model versions a server answers with, per environment.

A deployment serves `model@alias` (the primary) and optionally sends a
share of requests to other versions (`canary`: per request; `ab`: sticky
per routing key) or mirrors every request to a candidate (`shadow`: the
client always gets the primary's answer). Each target is an alias
(followed, hot-swapped when it moves) or a version number (pinned).
`rollback` watches every version swapped in and moves its alias back when
it misbehaves. In `mlcycle.yaml`::

    serving:
      deployments:
        production:
          model: bike-demand
          alias: production
          canary: challenger=10%        # or ab: "b=30%,c=20%" (the rest: primary)
          shadow: candidate
          rollback: {window_seconds: 300, max_error_rate: 0.05, max_p99_ms: 250}

The CLI takes the same strings: `mlcycle serve bike-demand@production
--canary challenger=10%`, `--ab b=50% --sticky-header X-User-Id`,
`--shadow candidate`, `--env production`.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mlcycle.core._errors import ConfigError

_SPLIT = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*$")
_HEADER = re.compile(r"^[A-Za-z0-9-]{1,64}$")


class _Frozen(BaseModel):
    # _config.py imports this module, so its base class cannot be imported here.
    model_config = ConfigDict(frozen=True, extra="forbid")


class Split(_Frozen):
    """A share of traffic for one target.

    Attributes:
        target: an alias (followed) or a version number (pinned), e.g. `challenger` or `3`.
        percent: the share of requests, in percent, in (0, 100].
    """

    target: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    percent: float = Field(gt=0.0, le=100.0)

    @classmethod
    def parse(cls, text: str, option: str) -> Split:
        """Parse `TARGET=PCT%`, e.g. `challenger=10%`.

        Raises:
            ConfigError: naming `option` and the text, if it is malformed or out of range.
        """
        match = _SPLIT.fullmatch(text)
        if match is None or not 0.0 < float(match[2]) <= 100.0:
            raise ConfigError(
                f"{option} must be ALIAS_OR_VERSION=PERCENT% with 0 < PERCENT <= 100 "
                f"(e.g. challenger=10%); got {text!r}"
            )
        return cls(target=match[1], percent=float(match[2]))


def _splits(value: Any, option: str) -> Any:
    if isinstance(value, str):
        return [Split.parse(part, option) for part in value.split(",")]
    return value


class RollbackConfig(_Frozen):
    """When to move an alias back after it moved to a new version.

    For `window_seconds` after a swap the new version's requests are
    counted; once there are at least `min_requests`, an error rate
    (server-side failures / requests, in [0, 1]) above `max_error_rate`
    or a p99 latency above `max_p99_ms` (milliseconds; None = not
    checked) moves the alias back to the previous version.
    """

    window_seconds: float = Field(300.0, gt=0.0)
    max_error_rate: float = Field(0.05, ge=0.0, le=1.0)
    max_p99_ms: float | None = Field(None, gt=0.0)
    min_requests: int = Field(20, ge=1)


class DeploymentConfig(_Frozen):
    """One served deployment (see the module docstring for the YAML form).

    `canary` and `ab` are exclusive; `ab` shares add up to at most 100%
    and the rest goes to the primary. `sticky_header` names the request
    header whose value picks the A/B arm (same value, same arm).
    """

    model: str = Field(min_length=1)
    alias: str = Field("production", pattern=r"^[A-Za-z0-9_-]+$")
    canary: Split | None = None
    ab: tuple[Split, ...] = ()
    sticky_header: str = "X-Routing-Key"
    shadow: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]+$")
    rollback: RollbackConfig | None = None

    @field_validator("canary", mode="before")
    @classmethod
    def _parse_canary(cls, value: Any) -> Any:
        return Split.parse(value, "canary") if isinstance(value, str) else value

    @field_validator("ab", mode="before")
    @classmethod
    def _parse_ab(cls, value: Any) -> Any:
        return _splits(value, "ab")

    @field_validator("sticky_header")
    @classmethod
    def _header_name(cls, value: str) -> str:
        if not _HEADER.fullmatch(value):
            raise ValueError(f"sticky_header must be an HTTP header name; got {value!r}")
        return value

    @model_validator(mode="after")
    def _shares(self) -> DeploymentConfig:
        if self.canary is not None and self.ab:
            raise ValueError("canary and ab cannot be combined; pick one split")
        if sum(s.percent for s in self.ab) > 100.0:
            raise ValueError("ab shares add up to more than 100%")
        return self

    @property
    def splits(self) -> tuple[Split, ...]:
        """The non-primary shares: the canary, or the A/B arms."""
        return (self.canary,) if self.canary is not None else self.ab

    @property
    def sticky(self) -> bool:
        """Whether the split follows the routing key (A/B) instead of each request (canary)."""
        return bool(self.ab)


def deployment_config(source: str, **values: Any) -> DeploymentConfig:
    """Validate a deployment given as keyword values (e.g. from CLI options).

    Raises:
        ConfigError: naming `source`, the first offending key and what is wrong.
    """
    try:
        return DeploymentConfig.model_validate(values)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "deployment"
        message = str(first["msg"]).removeprefix("Value error, ")
        named = message if message.startswith(where) else f"{where}: {message}"
        raise ConfigError(f"{source}: {named}") from None
